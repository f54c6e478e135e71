using MountChain.FileSystems.Common;
using MountChain.FileSystems.Fat;
using MountChain.FileSystems.Xfs;

namespace MountChain.FileSystems.Exfat;

/// <summary>
/// The allocation bitmap: bit N-2 set = cluster N in use. Read through a bounded cache of 64 KiB
/// pages; used to refuse a file whose clusters the volume considers free (a damaged or hostile
/// entry pointing into free space). Thread-safe.
/// </summary>
internal sealed class ExfatAllocationBitmap
{
    private const int PageSize = 65536;
    private readonly ClusterHeap _heap;
    private readonly ClusterRuns _runs;
    private readonly long _length;
    private readonly BoundedCache<long, byte[]> _pages = new(64);

    public ExfatAllocationBitmap(ClusterHeap heap, ClusterRuns runs, long length, string where)
    {
        if (length < (heap.ClusterCount + 7L) / 8)
            throw new FileSystemCorruptException($"{where}: allocation bitmap of {length} bytes cannot cover {heap.ClusterCount} clusters");
        _heap = heap;
        _runs = runs;
        _length = length;
    }

    public bool IsAllocated(uint cluster)
    {
        long bit = cluster - ClusterHeap.FirstCluster;
        var page = Page(bit / 8 / PageSize);
        return (page[(int)(bit / 8 % PageSize)] & (1 << (int)(bit & 7))) != 0;
    }

    /// <summary>Throws when any cluster of the runs is marked free.</summary>
    public void CheckAllocated(ClusterRuns runs, string where)
    {
        foreach (var (first, count) in runs.All())
            for (uint i = 0; i < count; i++)
                if (!IsAllocated(first + i))
                    throw new FileSystemCorruptException($"{where}: cluster {first + i} is free in the allocation bitmap");
    }

    private byte[] Page(long index)
    {
        if (_pages.TryGet(index, out var page)) return page!;
        page = new byte[PageSize];
        long start = index * PageSize;
        int n = (int)Math.Min(PageSize, _length - start);
        _heap.Read(_runs, _length, page.AsSpan(0, n), start, "exFAT allocation bitmap");
        _pages.Add(index, page);
        return page;
    }
}
