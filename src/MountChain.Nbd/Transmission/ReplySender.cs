using System.Net.Sockets;
using System.Threading.Channels;
using MountChain.Core.BlockDevices;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Transport;

namespace MountChain.Nbd.Transmission;

/// <summary>
/// One finished reply: a pooled head (reply header, maybe a small payload), an optional pooled
/// payload (read data), and for a read longer than one stream chunk the part still to be read
/// (<see cref="Rest"/>), which the writer streams from the device through its own chunk buffer.
/// </summary>
internal readonly record struct OutgoingReply(byte[] Head, int HeadLength, byte[]? Payload, int PayloadLength, long Cost)
{
    public int Length => HeadLength + PayloadLength;

    /// <summary>Device bytes that follow the payload on the wire, read just before they are sent.</summary>
    public DeferredRead? Rest { get; init; }
}

/// <summary>The tail of a large READ: read chunk by chunk as it is sent, so it never sits whole in memory.</summary>
internal sealed record DeferredRead(long Offset, long Length);

/// <summary>
/// The per-connection write side. Replies are finished on many threads but the stream must see each
/// one whole, so they are queued here and written by this one writer — it plays the part of the
/// per-connection write lock, and lets us gather every reply that is ready into one sendmsg.
/// </summary>
internal sealed class ReplySender
{
    private const int MaxBatchReplies = 64;
    private const int MaxBatchBytes = 8 * 1024 * 1024;

    private readonly NbdTransport _transport;
    private readonly InFlightBudget _budget;
    private readonly ReplyBuffers _buffers;
    private readonly IBlockDevice _device;
    private readonly Action<string> _log;
    private readonly Channel<OutgoingReply> _queue = Channel.CreateUnbounded<OutgoingReply>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });
    private readonly Task _loop;

    public ReplySender(NbdTransport transport, InFlightBudget budget, ReplyBuffers buffers, IBlockDevice device, Action<string> log)
    {
        _transport = transport;
        _budget = budget;
        _buffers = buffers;
        _device = device;
        _log = log;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>True once a send failed (the peer went away); later replies are dropped.</summary>
    public bool Broken { get; private set; }

    public void Enqueue(OutgoingReply reply)
    {
        if (!_queue.Writer.TryWrite(reply)) Recycle(reply);
    }

    /// <summary>No more replies will come; completes after the queued ones are written.</summary>
    public Task CompleteAsync()
    {
        _queue.Writer.TryComplete();
        return _loop;
    }

    private async Task RunAsync()
    {
        var batch = new List<OutgoingReply>(MaxBatchReplies);
        var segments = new List<ArraySegment<byte>>(MaxBatchReplies * 2);
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            int bytes = 0;
            DeferredRead? rest = null;
            // A reply with a deferred tail ends the batch: its tail must follow its head directly.
            while (rest == null && batch.Count < MaxBatchReplies && bytes < MaxBatchBytes && reader.TryRead(out var reply))
            {
                batch.Add(reply);
                segments.Add(new ArraySegment<byte>(reply.Head, 0, reply.HeadLength));
                if (reply.PayloadLength > 0) segments.Add(new ArraySegment<byte>(reply.Payload!, 0, reply.PayloadLength));
                bytes += reply.Length;
                rest = reply.Rest;
            }
            if (!Broken)
            {
                try
                {
                    await _transport.SendAsync(segments, bytes, CancellationToken.None).ConfigureAwait(false);
                    if (rest != null) await StreamAsync(rest).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
                {
                    Broken = true;
                    _log($"reply not delivered: {e.Message}");
                }
            }
            foreach (var reply in batch) Recycle(reply);
            batch.Clear();
            segments.Clear();
        }
    }

    /// <summary>
    /// Reads and sends the tail of a large READ one chunk at a time. Its header already promised the
    /// data, so a device error here cannot become an error reply: the connection is closed instead.
    /// </summary>
    private async Task StreamAsync(DeferredRead rest)
    {
        byte[] chunk = _buffers.Rent(NbdWireSize.StreamChunk);
        try
        {
            for (long done = 0; done < rest.Length;)
            {
                int n = (int)Math.Min(NbdWireSize.StreamChunk, rest.Length - done);
                try
                {
                    _device.Read(chunk.AsSpan(0, n), rest.Offset + done);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    _log($"READ at {rest.Offset + done}+{n} failed after its reply began: {e.GetType().Name}: {e.Message}; closing the connection");
                    Broken = true;
                    _transport.Dispose();
                    return;
                }
                await _transport.SendAsync(chunk.AsMemory(0, n), CancellationToken.None).ConfigureAwait(false);
                done += n;
            }
        }
        finally
        {
            _buffers.Return(chunk);
        }
    }

    private void Recycle(OutgoingReply reply)
    {
        _buffers.Return(reply.Head);
        if (reply.Payload != null) _buffers.Return(reply.Payload);
        _budget.Release(reply.Cost);
    }
}
