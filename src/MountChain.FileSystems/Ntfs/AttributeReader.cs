using System.Buffers;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// Reads the value of an attribute: resident bytes, non-resident runs (holes read as zeros,
/// bytes past the initialized size read as zeros) and LZNT1 compression units. Stateless apart
/// from the device, so safe for concurrent use.
/// </summary>
internal sealed class AttributeReader(IBlockDevice volume, int clusterSize)
{
    private const long MaxCompressionUnitBytes = 4 << 20;

    public int ClusterSize { get; } = clusterSize;

    public int Read(NtfsAttribute attr, Span<byte> buffer, long offset, string what)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset));
        if (attr.IsResident)
        {
            var v = attr.ResidentValue!;
            if (offset >= v.Length) return 0;
            int n = (int)Math.Min(buffer.Length, v.Length - offset);
            v.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }
        if (attr.IsEncrypted) throw new FileSystemCorruptException($"{what}: data is EFS-encrypted and cannot be read");
        if (offset >= attr.DataSize) return 0;
        int count = (int)Math.Min(buffer.Length, attr.DataSize - offset);
        var dest = buffer[..count];
        if (attr.IsCompressed) ReadCompressed(attr, dest, offset, what);
        else ReadRuns(attr, dest, offset, what);
        // Bytes past the initialized size were never written: they read as zeros.
        if (offset + count > attr.InitializedSize)
        {
            long zeroFrom = Math.Max(attr.InitializedSize, offset);
            dest[(int)(zeroFrom - offset)..].Clear();
        }
        return count;
    }

    /// <summary>Reads exactly <paramref name="dest"/>.Length bytes mapped by the runs, starting at byte <paramref name="offset"/> of the attribute.</summary>
    private void ReadRuns(NtfsAttribute attr, Span<byte> dest, long offset, string what)
    {
        var runs = attr.Runs;
        int index = FindRun(runs, offset / ClusterSize);
        while (!dest.IsEmpty)
        {
            long vcn = offset / ClusterSize;
            while (index < runs.Count && runs[index].EndVcn <= vcn) index++;
            if (index >= runs.Count || runs[index].Vcn > vcn)
                throw new FileSystemCorruptException($"{what}: no data run maps cluster {vcn}");
            var run = runs[index];
            long runEnd = run.EndVcn * ClusterSize;
            int n = (int)Math.Min(dest.Length, runEnd - offset);
            if (run.IsSparse) dest[..n].Clear();
            else volume.Read(dest[..n], run.Lcn * ClusterSize + (offset - run.Vcn * ClusterSize));
            dest = dest[n..];
            offset += n;
        }
    }

    /// <summary>
    /// Where bytes [offset, offset+length) of a plain non-resident value lie under the volume: sparse
    /// runs and bytes past the initialized size are zeros. False for resident, compressed or
    /// encrypted values.
    /// </summary>
    public bool TryLocate(NtfsAttribute attr, long offset, long length, List<FileRange> output, string what)
    {
        if (attr.IsResident || attr.IsCompressed || attr.IsEncrypted || offset < 0 || length < 0 || length > attr.DataSize - offset) return false;
        long end = offset + length, written = Math.Min(end, Math.Max(offset, attr.InitializedSize));
        var runs = attr.Runs;
        int index = FindRun(runs, offset / ClusterSize);
        while (offset < written)
        {
            long vcn = offset / ClusterSize;
            while (index < runs.Count && runs[index].EndVcn <= vcn) index++;
            if (index >= runs.Count || runs[index].Vcn > vcn)
                throw new FileSystemCorruptException($"{what}: no data run maps cluster {vcn}");
            var run = runs[index];
            long n = Math.Min(written, run.EndVcn * ClusterSize) - offset;
            if (run.IsSparse) VolumeRanges.Zeros(output, n);
            else if (!VolumeRanges.TryDescribe(volume, run.Lcn * ClusterSize + (offset - run.Vcn * ClusterSize), n, output)) return false;
            offset += n;
        }
        VolumeRanges.Zeros(output, end - offset);
        return true;
    }

    private static int FindRun(IReadOnlyList<DataRun> runs, long vcn)
    {
        int lo = 0, hi = runs.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (runs[mid].EndVcn <= vcn) lo = mid + 1;
            else if (runs[mid].Vcn > vcn) hi = mid - 1;
            else return mid;
        }
        return Math.Min(lo, runs.Count);
    }

    /// <summary>
    /// A compression unit (2^CU clusters, 16 for ntfs-3g) is either all holes (zeros), fully
    /// allocated (stored raw), or partly allocated: LZNT1 data in the allocated clusters.
    /// </summary>
    private void ReadCompressed(NtfsAttribute attr, Span<byte> dest, long offset, string what)
    {
        long unitClusters = 1L << attr.CompressionUnitLog2;
        // NTFS uses 16-cluster units of at most 4 KiB clusters; refuse anything beyond 4 MiB per unit.
        if (unitClusters * ClusterSize > MaxCompressionUnitBytes)
            throw new FileSystemCorruptException($"{what}: compression unit of {unitClusters} clusters is absurd");
        int unitBytes = (int)(unitClusters * ClusterSize);
        byte[] plain = ArrayPool<byte>.Shared.Rent(unitBytes);
        byte[] packed = ArrayPool<byte>.Shared.Rent(unitBytes);
        try
        {
            while (!dest.IsEmpty)
            {
                long unit = offset / unitBytes;
                long unitStart = unit * unitBytes;
                long firstVcn = unit * unitClusters;
                long allocated = AllocatedClusters(attr.Runs, firstVcn, unitClusters, out long mapped);
                var unitSpan = plain.AsSpan(0, unitBytes);
                if (allocated == 0)
                    unitSpan.Clear();
                else if (allocated >= unitClusters || mapped < unitClusters && allocated == mapped && firstVcn + mapped >= LastVcnExclusive(attr))
                {
                    // Stored uncompressed (or the final, short unit stored raw).
                    unitSpan.Clear();
                    long have = Math.Min(unitBytes, Math.Max(0, attr.Runs.Count > 0 ? attr.Runs[^1].EndVcn * ClusterSize - unitStart : 0));
                    ReadRuns(attr, unitSpan[..(int)have], unitStart, what);
                }
                else
                {
                    ReadAllocated(attr.Runs, firstVcn, unitClusters, packed.AsSpan(0, (int)(allocated * ClusterSize)));
                    unitSpan.Clear();
                    Lznt1.Decompress(packed.AsSpan(0, (int)(allocated * ClusterSize)), unitSpan, what);
                }
                int skip = (int)(offset - unitStart);
                int n = Math.Min(dest.Length, unitBytes - skip);
                unitSpan.Slice(skip, n).CopyTo(dest);
                dest = dest[n..];
                offset += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain);
            ArrayPool<byte>.Shared.Return(packed);
        }
    }

    private static long LastVcnExclusive(NtfsAttribute attr) => attr.Runs.Count > 0 ? attr.Runs[^1].EndVcn : 0;

    /// <summary>Counts the non-sparse clusters of [firstVcn, firstVcn+count) and how many of them any run maps.</summary>
    private static long AllocatedClusters(IReadOnlyList<DataRun> runs, long firstVcn, long count, out long mapped)
    {
        long allocated = 0;
        mapped = 0;
        long end = firstVcn + count;
        for (int i = FindRun(runs, firstVcn); i < runs.Count && runs[i].Vcn < end; i++)
        {
            long overlap = Math.Min(end, runs[i].EndVcn) - Math.Max(firstVcn, runs[i].Vcn);
            if (overlap <= 0) continue;
            mapped += overlap;
            if (!runs[i].IsSparse) allocated += overlap;
        }
        return allocated;
    }

    private void ReadAllocated(IReadOnlyList<DataRun> runs, long firstVcn, long count, Span<byte> dest)
    {
        long end = firstVcn + count;
        for (int i = FindRun(runs, firstVcn); i < runs.Count && runs[i].Vcn < end && !dest.IsEmpty; i++)
        {
            var run = runs[i];
            if (run.IsSparse) continue;
            long from = Math.Max(firstVcn, run.Vcn), to = Math.Min(end, run.EndVcn);
            if (to <= from) continue;
            int n = (int)((to - from) * ClusterSize);
            volume.Read(dest[..n], (run.Lcn + (from - run.Vcn)) * ClusterSize);
            dest = dest[n..];
        }
    }

    /// <summary>Allocated byte ranges of the attribute value, for sparse-aware copying.</summary>
    public List<(long Offset, long Length)> AllocatedRanges(NtfsAttribute attr)
    {
        var result = new List<(long, long)>();
        if (attr.IsResident) { if (attr.Length > 0) result.Add((0, attr.Length)); return result; }
        long unit = attr.IsCompressed ? 1L << attr.CompressionUnitLog2 : 1;
        long size = Math.Min(attr.DataSize, attr.InitializedSize);
        foreach (var run in attr.Runs)
        {
            if (run.IsSparse) continue;
            // A compressed unit with any data expands to the whole unit.
            long startVcn = run.Vcn / unit * unit, endVcn = (run.EndVcn + unit - 1) / unit * unit;
            long start = startVcn * ClusterSize, end = Math.Min(endVcn * ClusterSize, size);
            if (end <= start) continue;
            if (result.Count > 0 && result[^1].Item1 + result[^1].Item2 >= start)
            {
                var last = result[^1];
                result[^1] = (last.Item1, Math.Max(last.Item1 + last.Item2, end) - last.Item1);
            }
            else result.Add((start, end - start));
        }
        return result;
    }
}
