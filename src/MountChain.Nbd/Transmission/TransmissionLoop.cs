using System.Buffers;
using MountChain.Nbd.Handshake;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Server;

namespace MountChain.Nbd.Transmission;

/// <summary>
/// The transmission phase of one connection (proto.md "Transmission"): reads requests in order,
/// hands each to the thread pool so a pipelined client gets them served concurrently, and leaves
/// the replies to the <see cref="ReplySender"/>. Ends on NBD_CMD_DISC, end of stream, server
/// shutdown, or broken framing (thrown as <see cref="NbdProtocolException"/>); in every case the
/// requests already taken are finished and answered before it returns.
/// </summary>
internal sealed class TransmissionLoop(SocketReader reader, ReplySender sender, InFlightBudget budget, CommandProcessor processor)
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

                bool carriesData = request.Command is NbdCommand.Read or NbdCommand.Write;
                long cost = carriesData ? Math.Max(MinimumCost, request.Length) : MinimumCost;
                await budget.AcquireAsync(cost).ConfigureAwait(false);

                byte[]? payload = null;
                if (request.Command == NbdCommand.Write && request.Length > 0)
                {
                    payload = ArrayPool<byte>.Shared.Rent((int)request.Length);
                    try
                    {
                        await reader.ReadExactAsync(payload.AsMemory(0, (int)request.Length), ct).ConfigureAwait(false);
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(payload);
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

    /// <summary>One request on its way through the thread pool.</summary>
    private sealed class RequestWork(CommandProcessor processor, ReplySender sender, NbdRequest request, byte[]? payload, long cost)
        : IThreadPoolWorkItem
    {
        public void Execute() => sender.Enqueue(processor.Execute(request, payload, cost));
    }
}
