using MountChain.Nbd.Protocol;
using MountChain.Nbd.Transport;

namespace MountChain.Nbd.Transmission;

/// <summary>
/// The transmission phase of one connection (proto.md "Transmission"): reads requests in order,
/// hands each to the thread pool so a pipelined client gets them served concurrently, and leaves
/// the replies to the <see cref="ReplySender"/>. Ends on NBD_CMD_DISC, end of stream, server
/// shutdown, or broken framing (thrown as <see cref="NbdProtocolException"/>); in every case the
/// requests already taken are finished and answered before it returns.
/// </summary>
internal sealed class TransmissionLoop(MessageReader reader, ReplySender sender, InFlightBudget budget, CommandProcessor processor, ReplyBuffers buffers)
{
    /// <summary>Budget charged for a request without payload, so thousands of tiny requests cannot pile up either.</summary>
    private const int MinimumCost = 4096;

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (!sender.Broken)
            {
                if (!await reader.EnsureAsync(NbdWireSize.Request, ct).ConfigureAwait(false)) return; // peer hung up
                var request = NbdRequest.Parse(reader.Peek(NbdWireSize.Request));
                reader.Consume(NbdWireSize.Request);

                if (request.Command == NbdCommand.Disconnect) return;
                // A longer READ/WRITE is outside the advertised maximum payload (proto.md "Size constraints");
                // a WRITE's payload cannot even be skipped safely, so the connection ends.
                if (request.Command is NbdCommand.Read or NbdCommand.Write && request.Length > NbdWireSize.MaxPayload)
                    throw new NbdProtocolException($"{request.Command} of {request.Length} bytes exceeds the {NbdWireSize.MaxPayload}-byte maximum payload");

                // What the request will hold in memory: its data up to one stream chunk (the rest streams).
                bool carriesData = request.Command is NbdCommand.Read or NbdCommand.Write;
                long cost = carriesData ? Math.Clamp(request.Length, MinimumCost, NbdWireSize.StreamChunk) : MinimumCost;
                await budget.AcquireAsync(cost).ConfigureAwait(false);

                if (request.Command == NbdCommand.Write && request.Length > NbdWireSize.StreamChunk)
                {
                    await StreamWriteAsync(request, cost, ct).ConfigureAwait(false);
                    continue;
                }
                byte[]? payload = null;
                if (request.Command == NbdCommand.Write && request.Length > 0)
                {
                    payload = buffers.Rent((int)request.Length);
                    try
                    {
                        await reader.ReadExactAsync(payload.AsMemory(0, (int)request.Length), ct).ConfigureAwait(false);
                    }
                    catch
                    {
                        buffers.Return(payload);
                        budget.Release(cost);
                        throw;
                    }
                }
                ThreadPool.UnsafeQueueUserWorkItem(new RequestWork(processor, sender, request, payload, cost), preferLocal: false);
            }
        }
        finally
        {
            // Finish what was taken (proto.md: handle outstanding requests before closing).
            await budget.WaitIdleAsync().ConfigureAwait(false);
            await sender.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A WRITE longer than one chunk is written here chunk by chunk as it arrives, so its payload is
    /// never held whole. The whole payload is always read (the framing depends on it); the reply
    /// carries the first error.
    /// </summary>
    private async Task StreamWriteAsync(NbdRequest request, long cost, CancellationToken ct)
    {
        byte[] chunk = buffers.Rent(NbdWireSize.StreamChunk);
        try
        {
            var rejected = processor.CheckStreamedWrite(request);
            Exception? failure = null;
            for (long done = 0; done < request.Length;)
            {
                int n = (int)Math.Min(NbdWireSize.StreamChunk, request.Length - done);
                await reader.ReadExactAsync(chunk.AsMemory(0, n), ct).ConfigureAwait(false);
                if (rejected == NbdError.None && failure == null)
                {
                    try { processor.WriteChunk(request, chunk.AsSpan(0, n), done); }
                    catch (Exception e) when (e is not OutOfMemoryException) { failure = e; }
                }
                done += n;
            }
            sender.Enqueue(processor.FinishStreamedWrite(request, rejected, failure, cost));
        }
        catch
        {
            budget.Release(cost);
            throw;
        }
        finally
        {
            buffers.Return(chunk);
        }
    }

    /// <summary>One request on its way through the thread pool.</summary>
    private sealed class RequestWork(CommandProcessor processor, ReplySender sender, NbdRequest request, byte[]? payload, long cost)
        : IThreadPoolWorkItem
    {
        public void Execute() => sender.Enqueue(processor.Execute(request, payload, cost));
    }
}
