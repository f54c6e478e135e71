using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using MountChain.Core.BlockDevices;
using MountChain.Fuzz.Harness;
using MountChain.Nbd.Server;

namespace MountChain.Fuzz.Targets;

/// <summary>
/// The NBD server's parsers, fed through a real socket: the option haggling of the handshake, and
/// the request stream of transmission (after a fixed handshake that agrees structured replies and
/// both meta contexts). A connection may end with any log line except "internal error".
/// </summary>
public static class NbdTargets
{
    private static readonly Lazy<FuzzServer> Server = new(() => new FuzzServer());

    public static IEnumerable<FuzzTarget> All()
    {
        yield return new("nbd-handshake", "fixed newstyle handshake: client flags, options, option data", (input, _) => Server.Value.Converse(input));
        yield return new("nbd-transmission", "request headers, payloads, flags, structured replies, block status", (input, _) =>
            Server.Value.Converse([.. TransmissionPrefix, .. input]));
    }

    /// <summary>Client flags, STRUCTURED_REPLY, SET_META_CONTEXT (base:allocation, mountchain:generation), GO on the default export.</summary>
    private static readonly byte[] TransmissionPrefix = BuildPrefix();

    private static byte[] BuildPrefix()
    {
        var b = new List<byte>();
        void U32(uint v) { Span<byte> s = stackalloc byte[4]; BinaryPrimitives.WriteUInt32BigEndian(s, v); b.AddRange(s.ToArray()); }
        void U64(ulong v) { Span<byte> s = stackalloc byte[8]; BinaryPrimitives.WriteUInt64BigEndian(s, v); b.AddRange(s.ToArray()); }
        void Option(uint option, byte[] data) { U64(0x49484156454F5054); U32(option); U32((uint)data.Length); b.AddRange(data); }
        U32(3);
        Option(8, []);
        var meta = new List<byte>();
        void MU32(uint v) { var s = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(s, v); meta.AddRange(s); }
        MU32(0); MU32(2);
        foreach (var q in new[] { "base:allocation", "mountchain:generation" }) { MU32((uint)q.Length); meta.AddRange(System.Text.Encoding.ASCII.GetBytes(q)); }
        Option(10, [.. meta]);
        Option(7, [0, 0, 0, 0, 0, 0]);
        return [.. b];
    }

    /// <summary>One server on a Unix socket for the whole process, exporting a writable 1 MiB memory disk.</summary>
    private sealed class FuzzServer
    {
        private readonly string _socketPath;
        private readonly ConcurrentQueue<string> _log = new();

        public FuzzServer()
        {
            _socketPath = Path.Combine(Path.GetTempPath(), $"mountchain-fuzz-nbd-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
            var options = new NbdServerOptions
            {
                Endpoints = [new UnixDomainSocketEndPoint(_socketPath)],
                Log = line => _log.Enqueue(line),
                HandshakeTimeout = TimeSpan.FromSeconds(5),
                ShutdownGrace = TimeSpan.FromSeconds(1),
            };
            var server = new NbdServer(new MemoryBlockDevice(new byte[1 << 20]), options);
            server.Start();
            _ = Task.Run(() => server.RunAsync(CancellationToken.None));
            AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { File.Delete(_socketPath); } catch (IOException) { } };
        }

        /// <summary>Sends <paramref name="bytes"/> as a client, half-closes, reads every reply until the server closes.</summary>
        public void Converse(byte[] bytes)
        {
            _log.Clear();
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(_socketPath));
            var send = Task.Run(() =>
            {
                try
                {
                    socket.Send(bytes);
                    socket.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException) { } // the server closed first: fine
            });
            var buffer = new byte[64 * 1024];
            socket.ReceiveTimeout = 10_000;
            try
            {
                while (socket.Receive(buffer) > 0) { }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                throw new FuzzFailure("nbd: the server neither answered nor closed the connection within 10 s");
            }
            catch (SocketException) { } // reset by the server after a protocol error
            send.Wait();
            // NbdConnection logs why it ended before it closes the socket, so the line is there now.
            foreach (var line in _log)
                if (line.Contains("internal error", StringComparison.Ordinal))
                    throw new FuzzFailure(line);
        }
    }
}
