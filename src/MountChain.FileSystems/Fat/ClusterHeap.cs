using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// The data area of a FAT or exFAT volume: clusters 2 … ClusterCount+1 of one size from a byte
/// offset. Reads are positional and checked against the heap and the device (format doc §FAT).
/// </summary>
internal sealed class ClusterHeap
{
    public const uint FirstCluster = 2;

    private readonly IBlockDevice _device;

    public ClusterHeap(IBlockDevice device, long offset, int clusterSize, uint clusterCount, string volume)
    {
        _device = device;
        Offset = offset;
        ClusterSize = clusterSize;
        ClusterCount = clusterCount;
        Volume = volume;
        ClusterShift = System.Numerics.BitOperations.Log2((uint)clusterSize);
        if (offset < 0 || offset + (long)clusterCount * clusterSize > device.Length)
            throw new FileSystemCorruptException($"{volume}: the cluster heap ({clusterCount} clusters of {clusterSize} bytes from byte {offset}) extends beyond the {device.Length}-byte volume");
    }

    public long Offset { get; }
    public int ClusterSize { get; }
    public int ClusterShift { get; }
    public uint ClusterCount { get; }
    /// <summary>How errors name this volume ("FAT32 volume p1").</summary>
    public string Volume { get; }
    public IBlockDevice Device => _device;

    public bool IsValid(uint cluster) => cluster >= FirstCluster && cluster - FirstCluster < ClusterCount;

    /// <summary>True when <paramref name="count"/> clusters from <paramref name="first"/> all lie in the heap.</summary>
    public bool IsValidRange(uint first, ulong count) =>
        IsValid(first) && count <= ClusterCount && first - FirstCluster + count <= ClusterCount;

    public long OffsetOf(uint cluster) => Offset + ((long)(cluster - FirstCluster) << ClusterShift);

    /// <summary>
    /// Reads bytes of a file whose clusters are <paramref name="runs"/> and whose content is
    /// <paramref name="length"/> bytes long; returns the bytes read (0 at or past the end).
    /// </summary>
    public int Read(ClusterRuns runs, long length, Span<byte> buffer, long offset, string where)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset));
        if (offset >= length || buffer.IsEmpty) return 0;
        int total = (int)Math.Min(buffer.Length, length - offset);
        if ((offset + total - 1) >> ClusterShift >= runs.ClusterCount)
            throw new FileSystemCorruptException($"{where}: {length} bytes need more than the {runs.ClusterCount} clusters of its chain");
        int done = 0;
        while (done < total)
        {
            long position = offset + done;
            var (cluster, left) = runs.Locate((uint)(position >> ClusterShift));
            long within = position & (ClusterSize - 1);
            long available = ((long)left << ClusterShift) - within;
            int n = (int)Math.Min(total - done, available);
            _device.Read(buffer.Slice(done, n), OffsetOf(cluster) + within);
            done += n;
        }
        return total;
    }

    /// <summary>Where bytes [offset, offset+count) of such a file (inside <paramref name="length"/>) lie under the device.</summary>
    public bool TryLocate(ClusterRuns runs, long length, long offset, long count, List<FileRange> output, string where)
    {
        if (offset < 0 || count < 0 || count > length - offset) return false;
        if (count > 0 && (offset + count - 1) >> ClusterShift >= runs.ClusterCount)
            throw new FileSystemCorruptException($"{where}: {length} bytes need more than the {runs.ClusterCount} clusters of its chain");
        long end = offset + count;
        while (offset < end)
        {
            var (cluster, left) = runs.Locate((uint)(offset >> ClusterShift));
            long within = offset & (ClusterSize - 1);
            long n = Math.Min(end - offset, ((long)left << ClusterShift) - within);
            if (!VolumeRanges.TryDescribe(_device, OffsetOf(cluster) + within, n, output)) return false;
            offset += n;
        }
        return true;
    }
}
