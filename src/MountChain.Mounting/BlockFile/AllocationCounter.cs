using System.Diagnostics;
using MountChain.Core.BlockDevices;

namespace MountChain.Mounting.BlockFile;

/// <summary>
/// How many bytes of a device hold data (the sum of its <see cref="ExtentKind.Data"/> extents),
/// reported as st_blocks. Counting walks the whole device's extents, so the result is cached;
/// writes mark it stale and it is recounted at most once per <see cref="RecountInterval"/>,
/// so a stream of writes with getattr between them does not rescan the device each time.
/// </summary>
public sealed class AllocationCounter(IBlockDevice device)
{
    /// <summary>Extents are asked for in windows of this size to keep each list short.</summary>
    private const long Window = 64L << 30;

    public static readonly TimeSpan RecountInterval = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private long _bytes = -1;
    private bool _stale;
    private long _countedAt;

    public long AllocatedBytes
    {
        get
        {
            lock (_gate)
            {
                if (_bytes >= 0 && (!_stale || Stopwatch.GetElapsedTime(_countedAt) < RecountInterval))
                    return _bytes;
                _bytes = Count(device);
                _stale = false;
                _countedAt = Stopwatch.GetTimestamp();
                return _bytes;
            }
        }
    }

    /// <summary>Called after any write, discard or zeroing.</summary>
    public void MarkStale()
    {
        lock (_gate) _stale = true;
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
