using System.Net.Security;
using System.Net.Sockets;

namespace MountChain.Nbd.Transport;

/// <summary>
/// The byte stream of one connection: the plain socket, or TLS over it after NBD_OPT_STARTTLS.
/// One receiver and one sender may use it at the same time (the receive loop and the reply writer).
/// </summary>
internal abstract class NbdTransport : IDisposable
{
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken ct);

    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>Writes the segments in order as one stream of bytes (<paramref name="total"/> = their sum).</summary>
    public abstract ValueTask SendAsync(List<ArraySegment<byte>> segments, int total, CancellationToken ct);

    public abstract void Dispose();
}

/// <summary>Plaintext: receives and gathered sends straight on the socket (one sendmsg per batch).</summary>
internal sealed class SocketTransport(Socket socket) : NbdTransport
{
    public Socket Socket => socket;

    public override ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken ct) =>
        socket.ReceiveAsync(destination, SocketFlags.None, ct);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[n..];
        }
    }

    public override async ValueTask SendAsync(List<ArraySegment<byte>> segments, int total, CancellationToken ct)
    {
        int sent = await socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
        while (sent < total)
        {
            // Drop what went out and retry with the rest.
            int skip = sent;
            total -= sent;
            while (skip > 0)
            {
                var first = segments[0];
                if (first.Count <= skip) { skip -= first.Count; segments.RemoveAt(0); }
                else { segments[0] = first.Slice(skip); skip = 0; }
            }
            sent = await socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
        }
    }

    public override void Dispose()
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        socket.Dispose();
    }
}

/// <summary>TLS over the connection's socket (after NBD_OPT_STARTTLS). SslStream allows one reader and one writer at once.</summary>
internal sealed class TlsTransport(SslStream stream, Socket socket) : NbdTransport
{
    public override ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken ct) => stream.ReadAsync(destination, ct);

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct) => stream.WriteAsync(data, ct);

    public override async ValueTask SendAsync(List<ArraySegment<byte>> segments, int total, CancellationToken ct)
    {
        foreach (var segment in segments) await stream.WriteAsync(segment.AsMemory(), ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        try { socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        stream.Dispose();
        socket.Dispose();
    }
}
