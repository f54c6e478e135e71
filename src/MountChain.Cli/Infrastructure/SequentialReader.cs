using System.Buffers;
using System.Collections.Concurrent;
using MountChain.Core.BlockDevices;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// Streams a whole device in order with read-ahead: reader threads fill blocks while the caller
/// consumes (hashes, writes) earlier ones. Reader k of R reads blocks k, k+R, k+2R, … into its own
/// bounded queue, and the caller takes block i from queue i mod R, so blocks arrive in order while
/// up to R reads run at once (a page-cache read is a memory copy: one core alone cannot reach the
/// memory bandwidth). Memory: at most R × (Depth + 2) blocks of <see cref="BlockSize"/>.
/// </summary>
public static class SequentialReader
{
    /// <summary>1 MiB: large enough that per-read overhead is noise, small enough to stay cache-friendly and keep RSS low.</summary>
    public const int BlockSize = 1 << 20;
    private const int Depth = 3;

    private readonly record struct Block(byte[] Buffer, int Count, long Offset);

    /// <summary>Calls <paramref name="consume"/> with consecutive blocks of [offset, offset+length).</summary>
    public static void ReadAll(IBlockDevice device, long offset, long length, Action<ReadOnlyMemory<byte>, long> consume, Progress? progress = null)
    {
        long blocks = (length + BlockSize - 1) / BlockSize;
        int readers = (int)Math.Clamp(Math.Min(Environment.ProcessorCount, blocks), 1, 4);
        var queues = new BlockingCollection<Block>[readers];
        var failures = new Exception?[readers];
        var threads = new Thread[readers];
        using var cancel = new CancellationTokenSource();
        for (int k = 0; k < readers; k++)
        {
            var queue = queues[k] = new BlockingCollection<Block>(Depth);
            int first = k;
            threads[k] = new Thread(() =>
            {
                try
                {
                    for (long i = first; i < blocks; i += readers)
                    {
                        long pos = offset + i * BlockSize;
                        int n = (int)Math.Min(BlockSize, offset + length - pos);
                        var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
                        try
                        {
                            device.Read(buffer.AsSpan(0, n), pos);
                            queue.Add(new Block(buffer, n, pos), cancel.Token);
                        }
                        catch
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                            throw;
                        }
                    }
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
                catch (Exception e)
                {
                    failures[first] = e;
                }
                finally
                {
                    queue.CompleteAdding();
                }
            }) { IsBackground = true, Name = $"read-ahead-{k}" };
            threads[k].Start();
        }
        try
        {
            for (long i = 0; i < blocks; i++)
            {
                int k = (int)(i % readers);
                if (!queues[k].TryTake(out var block, Timeout.Infinite))
                    throw failures[k] ?? new InvalidOperationException("read-ahead stopped early");
                try
                {
                    consume(block.Buffer.AsMemory(0, block.Count), block.Offset);
                    progress?.Advance(block.Count);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(block.Buffer);
                }
            }
        }
        finally
        {
            cancel.Cancel();
            foreach (var t in threads) t.Join();
            foreach (var q in queues)
            {
                while (q.TryTake(out var left)) ArrayPool<byte>.Shared.Return(left.Buffer);
                q.Dispose();
            }
        }
    }
}
