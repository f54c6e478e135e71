using System.Diagnostics;
using MountChain.Core.BlockDevices;

namespace MountChain.Mounting.BlockFile;

/// <summary>
/// How many bytes of a device hold data (the sum of its <see cref="ExtentKind.Data"/> extents),
/// reported as st_blocks. Counting walks the whole device's extents — on a deep chain that is every
/// grain table of every link — so the first count runs on a background thread, started by the first
/// ask: a mount is ready, and its first stat answered, without waiting for it, and the count does
/// not compete with opening and mounting. Until it is done the count is the device's whole length,
/// an upper bound: never 0, which tools such as tar read as "all hole" and would skip the data.
/// Writes mark the count stale; it is recounted at most once per <see cref="RecountInterval"/>, so a
/// stream of writes with getattr between them does not rescan the device each time.
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
    private Task? _firstCount;

    public AllocationCounter(IBlockDevice device) => _device = device;

    /// <summary>Starts the first count if it has not started; completes once it is done (faults only if the device cannot be read).</summary>
    internal Task FirstCount
    {
        get
        {
            lock (_gate) return _firstCount ??= StartFirstCount();
        }
    }

    private Task StartFirstCount()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                // Lowest priority: the count must not take a core from the requests being served,
                // nor from the launcher that is finishing the mount command beside us.
                if (OperatingSystem.IsLinux()) Lifecycle.LibC.SetPriority(0, Lifecycle.LibC.GetThreadId(), 19);
                long bytes = Count(_device);
                lock (_gate)
                {
                    bool writtenMeanwhile = _stale; // a write during the count may be missing from it: recount later
                    Publish(bytes);
                    _stale = writtenMeanwhile;
                }
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e); // st_blocks stays the upper bound; reads report the error themselves
            }
        }) { IsBackground = true, Name = "allocation count" };
        thread.Start();
        return done.Task;
    }

    public long AllocatedBytes
    {
        get
        {
            lock (_gate)
            {
                if (_bytes < 0)
                {
                    _firstCount ??= StartFirstCount();
                    return _device.Length;
                }
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
