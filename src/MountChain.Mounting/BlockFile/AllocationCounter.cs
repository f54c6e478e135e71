using System.Diagnostics;
using MountChain.Core.BlockDevices;

namespace MountChain.Mounting.BlockFile;

/// <summary>
/// How many bytes of a device hold data (the sum of its <see cref="ExtentKind.Data"/> extents),
/// reported as st_blocks. Counting walks the whole device's extents — on a deep chain that is every
/// grain table of every link — so the first count runs in the background from construction on: a
/// mount is ready, and its first stat answered, without waiting for it. Until it is done the count
/// is the device's whole length, an upper bound: never 0, which tools such as tar read as "all hole"
/// and would skip the data. Writes mark the count stale; it is recounted at most once per
/// <see cref="RecountInterval"/>, so a stream of writes with getattr between them does not rescan
/// the device each time.
/// </summary>
public sealed class AllocationCounter
{
    /// <summary>Extents are asked for in windows of this size to keep each list short.</summary>
    private const long Window = 64L << 30;

    public static readonly TimeSpan RecountInterval = TimeSpan.FromSeconds(1);

    private readonly IBlockDevice _device;
    private readonly object _gate = new();
    private long _bytes = -1;
    private bool _stale;
    private long _countedAt;

    public AllocationCounter(IBlockDevice device)
    {
        _device = device;
        FirstCount = Task.Run(() =>
        {
            long bytes = Count(device);
            lock (_gate)
            {
                if (_bytes >= 0) return;
                bool writtenMeanwhile = _stale; // a write during the count: it may be missing, recount later
                Publish(bytes);
                _stale = writtenMeanwhile;
            }
        });
    }

    /// <summary>The background count started at construction; faults only if the device cannot be read.</summary>
    internal Task FirstCount { get; }

    public long AllocatedBytes
    {
        get
        {
            lock (_gate)
            {
                if (_bytes < 0) return _device.Length; // the first count is still running
                if (_stale && Stopwatch.GetElapsedTime(_countedAt) >= RecountInterval)
                    Publish(Count(_device));
                return _bytes;
            }
        }
    }

    /// <summary>Called after any write, discard or zeroing.</summary>
    public void MarkStale()
    {
        lock (_gate) _stale = true;
    }

    private void Publish(long bytes)
    {
        _bytes = bytes;
        _stale = false;
        _countedAt = Stopwatch.GetTimestamp();
    }

    public static long Count(IBlockDevice device)
    {
        var extents = new List<BlockExtent>();
        long total = 0;
        for (long offset = 0; offset < device.Length; offset += Window)
        {
            extents.Clear();
            device.GetExtents(offset, Math.Min(Window, device.Length - offset), extents);
            foreach (var e in extents)
                if (e.Kind == ExtentKind.Data) total += e.Length;
        }
        return total;
    }
}
