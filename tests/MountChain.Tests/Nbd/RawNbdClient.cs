using System.Buffers.Binary;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Net.Sockets;
using System.Text;

namespace MountChain.Tests.Nbd;

/// <summary>
/// A deliberately small NBD client for protocol-level tests: it does the fixed newstyle handshake
/// with NBD_OPT_GO (optionally structured replies) and then sends whatever bytes a test wants,
/// including broken ones. Magic numbers are written out here on purpose, from proto.md, so the
/// test does not share constants with the server it checks.
/// </summary>
public sealed class RawNbdClient : IDisposable
{
    private readonly Socket _socket;
    private Stream _stream;

    public RawNbdClient(int port)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _socket.Connect("127.0.0.1", port);
        _socket.ReceiveTimeout = 10_000;
        _stream = new NetworkStream(_socket, ownsSocket: true);
    }

    public Socket Socket => _socket;

    public long ExportSize { get; private set; }
    public ushort TransmissionFlags { get; private set; }

    /// <summary>Reads the greeting, then NBD_OPT_STRUCTURED_REPLY (if asked) and NBD_OPT_GO.</summary>
    public void Handshake(bool structured = true)
    {
        var greeting = ReadExact(18);
        Assert.Equal(0x4e42444d41474943UL, BinaryPrimitives.ReadUInt64BigEndian(greeting));
        Assert.Equal(0x49484156454F5054UL, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        Send([0, 0, 0, 3]); // FIXED_NEWSTYLE | NO_ZEROES
        if (structured)
        {
            SendOption(8, []);
            Assert.Equal(1u, ReadOptionReply(8).Type);
        }
        var go = new byte[4 + 2];
        SendOption(7, go); // default export, no info requests
        while (true)
        {
            var (type, data) = ReadOptionReply(7);
            if (type == 1) break;
            Assert.Equal(3u, type); // NBD_REP_INFO
            if (BinaryPrimitives.ReadUInt16BigEndian(data) == 0)
            {
                ExportSize = (long)BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
                TransmissionFlags = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10));
            }
        }
    }

    /// <summary>Reads the greeting and sends the client flags (FIXED_NEWSTYLE | NO_ZEROES): ready for options.</summary>
    public void Greet()
    {
        var greeting = ReadExact(18);
        Assert.Equal(0x49484156454F5054UL, BinaryPrimitives.ReadUInt64BigEndian(greeting.AsSpan(8)));
        Send([0, 0, 0, 3]);
    }

    /// <summary>NBD_OPT_STARTTLS, then TLS with a server certificate that must chain to <paramref name="ca"/>; false when the server refused the option.</summary>
    public bool StartTls(X509Certificate2 ca, X509Certificate2Collection? clientCertificates = null)
    {
        SendOption(5, []);
        if (ReadOptionReply(5).Type != 1) return false;
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is X509Certificate2 server && chain.Build(server);
        });
        tls.AuthenticateAsClient(new SslClientAuthenticationOptions { TargetHost = "localhost", ClientCertificates = clientCertificates });
        _stream = tls;
        return true;
    }

    /// <summary>NBD_OPT_GO for the default export after <see cref="Greet"/> (and maybe STARTTLS); the final reply type.</summary>
    public uint Go()
    {
        SendOption(7, new byte[6]);
        while (true)
        {
            var (type, data) = ReadOptionReply(7);
            if (type != 3) return type;
            if (BinaryPrimitives.ReadUInt16BigEndian(data) == 0) ExportSize = (long)BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2));
        }
    }

    public void SendOption(uint option, byte[] data)
    {
        var header = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(header, 0x49484156454F5054UL);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), (uint)data.Length);
        data.CopyTo(header, 16);
        Send(header);
    }

    public (uint Type, byte[] Data) ReadOptionReply(uint option)
    {
        var header = ReadExact(20);
        Assert.Equal(0x3e889045565a9UL, BinaryPrimitives.ReadUInt64BigEndian(header));
        Assert.Equal(option, BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)));
        uint type = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
        var data = ReadExact((int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16)));
        return (type, data);
    }

    public void SendRequest(ushort type, ulong cookie, ulong offset, uint length, ushort flags = 0, uint magic = 0x25609513)
    {
        var request = new byte[28];
        BinaryPrimitives.WriteUInt32BigEndian(request, magic);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), type);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(24), length);
        Send(request);
    }

    /// <summary>One structured chunk: flags, type, cookie, payload.</summary>
    public (ushort Flags, ushort Type, ulong Cookie, byte[] Payload) ReadChunk()
    {
        var header = ReadExact(20);
        Assert.Equal(0x668e33efu, BinaryPrimitives.ReadUInt32BigEndian(header));
        return (BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(4)), BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(6)),
            BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8)), ReadExact((int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16))));
    }

    /// <summary>A simple reply: error and cookie.</summary>
    public (uint Error, ulong Cookie) ReadSimpleReply()
    {
        var header = ReadExact(16);
        Assert.Equal(0x67446698u, BinaryPrimitives.ReadUInt32BigEndian(header));
        return (BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)), BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(8)));
    }

    public void Send(byte[] bytes) => _stream.Write(bytes);

    public byte[] ReadExact(int count)
    {
        var buffer = new byte[count];
        _stream.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>True when the server closed the connection (end of stream or reset) within the receive timeout.</summary>
    public bool WasClosedByServer()
    {
        try
        {
            var buffer = new byte[4096];
            while (true)
            {
                int n = _stream.Read(buffer);
                if (n == 0) return true;
            }
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return true;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
        {
            return false;
        }
    }

    public static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    public void Dispose() => _stream.Dispose();
}
