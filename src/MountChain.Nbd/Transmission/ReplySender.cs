using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;

namespace MountChain.Nbd.Transmission;

/// <summary>
/// One finished reply: a pooled head (reply header, maybe a small payload) and an optional pooled
/// payload (read data), sent back to back in the same gathered write; and the budget it held.
/// </summary>
internal readonly record struct OutgoingReply(byte[] Head, int HeadLength, byte[]? Payload, int PayloadLength, long Cost)
{
    public int Length => HeadLength + PayloadLength;
}

/// <summary>
/// The per-connection write side. Replies are finished on many threads but the socket must see each
/// one whole, so they are queued here and written by this one writer — it plays the part of the
/// per-connection write lock, and lets us gather every reply that is ready into one sendmsg.
/// </summary>
internal sealed class ReplySender
{
    private const int MaxBatchReplies = 64;
    private const int MaxBatchBytes = 8 * 1024 * 1024;

    private readonly Socket _socket;
    private readonly InFlightBudget _budget;
    private readonly Action<string> _log;
    private readonly Channel<OutgoingReply> _queue = Channel.CreateUnbounded<OutgoingReply>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });
    private readonly Task _loop;

    public ReplySender(Socket socket, InFlightBudget budget, Action<string> log)
    {
        _socket = socket;
        _budget = budget;
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
            while (batch.Count < MaxBatchReplies && bytes < MaxBatchBytes && reader.TryRead(out var reply))
            {
                batch.Add(reply);
                segments.Add(new ArraySegment<byte>(reply.Head, 0, reply.HeadLength));
                if (reply.PayloadLength > 0) segments.Add(new ArraySegment<byte>(reply.Payload!, 0, reply.PayloadLength));
                bytes += reply.Length;
            }
            if (!Broken)
            {
                try
                {
                    await SendAllAsync(segments, bytes).ConfigureAwait(false);
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

    /// <summary>Gathered send of the whole batch; resumes after a partial send.</summary>
    private async Task SendAllAsync(List<ArraySegment<byte>> segments, int total)
    {
        int sent = await _socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
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
            sent = await _socket.SendAsync(segments, SocketFlags.None).ConfigureAwait(false);
        }
    }

    private void Recycle(OutgoingReply reply)
    {
        ArrayPool<byte>.Shared.Return(reply.Head);
        if (reply.Payload != null) ArrayPool<byte>.Shared.Return(reply.Payload);
        _budget.Release(reply.Cost);
    }
}
