using MountChain.FileSystems.Common;
using MountChain.FileSystems.Xfs;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// One File Allocation Table (FAT12/16/32 or exFAT) read through a bounded cache of 64 KiB pages,
/// and the cluster chains it links. A chain that does not end within the volume's cluster count
/// loops; two chains ending on the same cluster are cross-linked (each cluster has one successor,
/// so chains that share any cluster share their last one). Thread-safe.
/// </summary>
internal sealed class AllocationTable
{
    private const int PageSize = 65536;
    private const int PageCacheCapacity = 256; // 16 MiB at most
    private const int CrossLinkMemory = 1 << 20; // chain ends remembered (≈ 20 MB at most)

    private readonly ClusterHeap _heap;
    private readonly long _offset;
    private readonly long _length;
    private readonly BoundedCache<long, byte[]> _pages = new(PageCacheCapacity);
    private readonly Dictionary<uint, uint> _chainEnds = new();
    private readonly Lock _chainEndsLock = new();

    public AllocationTable(ClusterHeap heap, AllocationTableKind kind, long offset, long length)
    {
        _heap = heap;
        Kind = kind;
        _offset = offset;
        _length = length;
        long needed = EntryByteOffset(heap.ClusterCount + ClusterHeap.FirstCluster);
        if (offset < 0 || length < needed || offset + length > heap.Device.Length)
            throw new FileSystemCorruptException($"{heap.Volume}: the allocation table ({length} bytes at byte {offset}) cannot hold {heap.ClusterCount} clusters or lies outside the volume");
    }

    public AllocationTableKind Kind { get; }

    private long EntryByteOffset(uint cluster) => Kind switch
    {
        AllocationTableKind.Fat12 => cluster + (cluster >> 1),
        AllocationTableKind.Fat16 => 2L * cluster,
        _ => 4L * cluster,
    };

    /// <summary>The table entry of <paramref name="cluster"/> (the next cluster, or a special value).</summary>
    public uint Next(uint cluster)
    {
        long at = EntryByteOffset(cluster);
        switch (Kind)
        {
            case AllocationTableKind.Fat12:
                uint pair = (uint)(Byte(at) | Byte(at + 1) << 8);
                return (cluster & 1) == 0 ? pair & 0xFFF : pair >> 4;
            case AllocationTableKind.Fat16:
                return (uint)(Byte(at) | Byte(at + 1) << 8);
            default:
                var page = Page(at / PageSize);
                int i = (int)(at % PageSize); // entries are aligned: never straddle a page
                uint v = (uint)(page[i] | page[i + 1] << 8 | page[i + 2] << 16 | page[i + 3] << 24);
                return Kind == AllocationTableKind.Fat32 ? v & 0x0FFFFFFF : v;
        }
    }

    private byte Byte(long at) => Page(at / PageSize)[(int)(at % PageSize)];

    private byte[] Page(long index)
    {
        if (_pages.TryGet(index, out var page)) return page!;
        long start = index * PageSize;
        int n = (int)Math.Min(PageSize, _length - start);
        page = new byte[PageSize];
        _heap.Device.Read(page.AsSpan(0, n), _offset + start);
        _pages.Add(index, page);
        return page;
    }

    /// <summary>
    /// The clusters of the chain starting at <paramref name="first"/>. With <paramref name="neededClusters"/>
    /// only that many are kept (the chain must hold at least that many and still end properly);
    /// without, the whole chain (at most <paramref name="maxClusters"/>).
    /// </summary>
    public ClusterRuns Chain(uint first, long? neededClusters, long maxClusters, string where)
    {
        var runs = new ClusterRuns();
        if (!_heap.IsValid(first))
            throw new FileSystemCorruptException($"{where}: first cluster {first} lies outside the {_heap.ClusterCount}-cluster volume");
        uint end = Kind.EndOfChain(), bad = Kind.BadCluster();
        long keep = neededClusters ?? maxClusters;
        uint cluster = first;
        for (long steps = 1; ; steps++)
        {
            if (runs.ClusterCount < keep) runs.Add(cluster, where);
            else if (neededClusters == null)
                throw new FileSystemCorruptException($"{where}: cluster chain from {first} is longer than {maxClusters} clusters");
            if (steps > _heap.ClusterCount)
                throw new FileSystemCorruptException($"{where}: cluster chain from {first} loops (it does not end within the volume's {_heap.ClusterCount} clusters)");
            uint next = Next(cluster);
            if (next >= end) break;
            if (next == bad) throw new FileSystemCorruptException($"{where}: cluster chain from {first} reaches cluster {cluster} marked bad");
            if (next < ClusterHeap.FirstCluster) throw new FileSystemCorruptException($"{where}: cluster chain from {first} reaches cluster {cluster} whose table entry is free ({next})");
            if (!_heap.IsValid(next)) throw new FileSystemCorruptException($"{where}: cluster chain from {first} points from cluster {cluster} to {next}, outside the volume");
            if (next == cluster) throw new FileSystemCorruptException($"{where}: cluster chain from {first} loops (cluster {cluster} points to itself)");
            cluster = next;
        }
        if (neededClusters is { } need && runs.ClusterCount < need)
            throw new FileSystemCorruptException($"{where}: cluster chain from {first} ends after {runs.ClusterCount} clusters, {need} needed for its size");
        NoteChainEnd(first, cluster, where);
        return runs;
    }

    private void NoteChainEnd(uint first, uint last, string where)
    {
        lock (_chainEndsLock)
        {
            if (_chainEnds.TryGetValue(last, out uint other))
            {
                if (other != first)
                    throw new FileSystemCorruptException($"{where}: cluster chain from {first} is cross-linked with the chain from {other} (both end at cluster {last})");
                return;
            }
            if (_chainEnds.Count < CrossLinkMemory) _chainEnds[last] = first;
        }
    }
}
