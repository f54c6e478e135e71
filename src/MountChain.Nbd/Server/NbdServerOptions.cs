using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace MountChain.Nbd.Server;

/// <summary>What an <see cref="NbdServer"/> listens on and how it presents its one export.</summary>
public sealed record NbdServerOptions
{
    /// <summary>The default NBD port (IANA, proto.md "Newstyle negotiation").</summary>
    public const int DefaultPort = 10809;

    /// <summary>Where to listen: <see cref="IPEndPoint"/> (port 0 picks a free port) or <see cref="System.Net.Sockets.UnixDomainSocketEndPoint"/>.</summary>
    public IReadOnlyList<EndPoint> Endpoints { get; init; } = [new IPEndPoint(IPAddress.Loopback, DefaultPort)];

    /// <summary>Name clients ask for; the empty "default export" name is always accepted too.</summary>
    public string ExportName { get; init; } = "";

    /// <summary>Human-readable text shown by NBD_OPT_LIST and NBD_INFO_DESCRIPTION (e.g. by nbdinfo).</summary>
    public string? Description { get; init; }

    /// <summary>Refuse writes even when the device could take them (NBD_FLAG_READ_ONLY, EPERM).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// Generation index of the top of the presented device. A Zero extent served by another generation
    /// is a hole in the top, so base:allocation reports it HOLE|ZERO; null: Zero extents report ZERO only.
    /// </summary>
    public int? TopGeneration { get; init; }

    /// <summary>Where one-line diagnostics go (malformed client traffic, I/O errors). Default: stderr.</summary>
    public Action<string> Log { get; init; } = line => Console.Error.WriteLine(line);

    /// <summary>
    /// Byte budget of requests being served at once on one connection (back-pressure on pipelined
    /// clients). 16 MiB keeps two cores busy (nbdcopy's 64 × 256 KiB requests fit) while bounding
    /// the pooled buffers a connection can pin, which is most of the server's resident memory.
    /// </summary>
    public int MaxInFlightBytesPerConnection { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Byte budget of requests being served at once over all connections. A connection with nothing
    /// in flight may always start one request (at most <see cref="Protocol.NbdWireSize.StreamChunk"/> of buffer:
    /// larger reads and writes stream through one chunk), so clients that never read their replies
    /// cannot starve a good one, and memory stays below this plus one chunk per connection.
    /// </summary>
    public long MaxInFlightBytesTotal { get; init; } = 128L * 1024 * 1024;

    /// <summary>After this long without a request, pooled buffers are dropped and the memory given back to the system.</summary>
    public TimeSpan IdleTrimDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>NBD_OPT_STARTTLS: off, offered, or required before any other option (proto.md "TLS support").</summary>
    public NbdTlsMode Tls { get; init; } = NbdTlsMode.Off;

    /// <summary>The server's certificate with its private key; required unless <see cref="Tls"/> is Off.</summary>
    public X509Certificate2? TlsCertificate { get; init; }

    /// <summary>When set, clients must present a certificate issued by one of these authorities.</summary>
    public X509Certificate2Collection? TlsClientAuthorities { get; init; }

    /// <summary>When set, TCP clients from other addresses are disconnected at once (Unix socket clients are not filtered).</summary>
    public IReadOnlyList<IPNetwork>? Allow { get; init; }

    /// <summary>A client must finish option haggling within this time, so a silent peer cannot hold a connection forever.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Answer a structured READ of a range the device reports as all holes/zeros with one OFFSET_HOLE chunk instead of data.</summary>
    public bool SparseReads { get; init; } = true;

    /// <summary>On shutdown, how long connections get to finish their requests before their sockets are closed under them.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>SO_SNDBUF / SO_RCVBUF for accepted connections; 0 keeps the kernel's autotuning.</summary>
    public int SocketBufferSize { get; init; }
}

/// <summary>How the server treats NBD_OPT_STARTTLS (the modes of proto.md "TLS support").</summary>
public enum NbdTlsMode
{
    /// <summary>STARTTLS is answered NBD_REP_ERR_UNSUP.</summary>
    Off,
    /// <summary>Clients may upgrade to TLS or stay in plaintext ("selective" is not used: one export).</summary>
    On,
    /// <summary>Every option before STARTTLS is refused with NBD_REP_ERR_TLS_REQD; NBD_OPT_EXPORT_NAME ends the connection.</summary>
    Require,
}
