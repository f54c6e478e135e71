using System.Buffers;
using System.Threading.Channels;
using MountChain.Core.BlockDevices;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// Streams a whole device in order with read-ahead: a reader task fills large buffers while the
/// caller consumes (hashes, writes) the previous ones, so the two overlap on two cores.
/// </summary>
public static class SequentialReader
{
    public const int BlockSize = 4 << 20;
    private const int Depth = 4;

    /// <summary>Calls <paramref name="consume"/> with consecutive blocks of [offset, offset+length).</summary>
    public static void ReadAll(IBlockDevice device, long offset, long length, Action<ReadOnlyMemory<byte>, long> consume, Progress? progress = null)
    {
        var filled = Channel.CreateBounded<(byte[] Buffer, int Count, long Offset)>(Depth);
        using var cancel = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            try
            {
                for (long pos = offset; pos < offset + length;)
                {
                    int n = (int)Math.Min(BlockSize, offset + length - pos);
                    var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
                    device.Read(buffer.AsSpan(0, n), pos);
                    await filled.Writer.WriteAsync((buffer, n, pos), cancel.Token);
                    pos += n;
                }
                filled.Writer.Complete();
            }
            catch (Exception e)
            {
                filled.Writer.Complete(e);
            }
        });
        try
        {
            var reader = filled.Reader;
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var block))
                {
                    consume(block.Buffer.AsMemory(0, block.Count), block.Offset);
                    progress?.Advance(block.Count);
                    ArrayPool<byte>.Shared.Return(block.Buffer);
                }
            }
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
        finally
        {
            cancel.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
    }
}
