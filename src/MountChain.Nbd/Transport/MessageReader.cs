using MountChain.Nbd.Protocol;

namespace MountChain.Nbd.Transport;

/// <summary>
/// Buffered reads from one connection: small messages (request headers, options) come out of
/// a buffer filled by few large receives; large payloads go straight into the caller's memory.
/// One reader per connection, used by one loop at a time.
/// </summary>
internal sealed class MessageReader(NbdTransport transport, int bufferSize = 64 * 1024)
{
    private readonly byte[] _buffer = new byte[bufferSize];
    private int _start;
    private int _end;

    /// <summary>Where bytes come from; replaced by the TLS transport after NBD_OPT_STARTTLS (nothing may be buffered then).</summary>
    public NbdTransport Transport { get; set; } = transport;

    public int Buffered => _end - _start;

    /// <summary>The <paramref name="count"/> buffered bytes at the front (valid until the next call).</summary>
    public ReadOnlySpan<byte> Peek(int count) => _buffer.AsSpan(_start, count);

    public void Consume(int count) => _start += count;

    /// <summary>
    /// Makes at least <paramref name="count"/> bytes available. Returns false when the peer closed the
    /// connection before sending any of them; throws if it closed in the middle.
    /// </summary>
    public async ValueTask<bool> EnsureAsync(int count, CancellationToken ct)
    {
        if (count > _buffer.Length) throw new ArgumentOutOfRangeException(nameof(count));
        if (Buffered >= count) return true;
        if (_start > 0)
        {
            // Compact so the tail has room for a whole message.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
            _end -= _start;
            _start = 0;
        }
        while (_end < count)
        {
            int n = await Transport.ReceiveAsync(_buffer.AsMemory(_end), ct).ConfigureAwait(false);
            if (n == 0)
            {
                if (_end == 0) return false;
                throw new NbdProtocolException($"connection closed in the middle of a message ({_end} of {count} bytes)");
            }
            _end += n;
        }
        return true;
    }

    /// <summary>Reads exactly destination.Length bytes (buffered bytes first, the rest straight from the socket).</summary>
    public async ValueTask ReadExactAsync(Memory<byte> destination, CancellationToken ct)
    {
        int fromBuffer = Math.Min(Buffered, destination.Length);
        _buffer.AsSpan(_start, fromBuffer).CopyTo(destination.Span);
        _start += fromBuffer;
        destination = destination[fromBuffer..];
        while (!destination.IsEmpty)
        {
            int n = await Transport.ReceiveAsync(destination, ct).ConfigureAwait(false);
            if (n == 0) throw new NbdProtocolException($"connection closed with {destination.Length} payload bytes missing");
            destination = destination[n..];
        }
    }

    /// <summary>Reads and drops <paramref name="count"/> bytes.</summary>
    public async ValueTask SkipAsync(long count, CancellationToken ct)
    {
        while (count > 0)
        {
            if (Buffered == 0 && !await EnsureAsync(1, ct).ConfigureAwait(false))
                throw new NbdProtocolException($"connection closed with {count} bytes missing");
            int n = (int)Math.Min(count, Buffered);
            _start += n;
            count -= n;
        }
    }
}
