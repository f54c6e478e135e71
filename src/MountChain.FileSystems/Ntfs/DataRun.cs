using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>A run of clusters of an attribute: VCN range → LCN, or a hole (<see cref="Lcn"/> = -1).</summary>
internal readonly record struct DataRun(long Vcn, long Length, long Lcn)
{
    public bool IsSparse => Lcn < 0;
    public long EndVcn => Vcn + Length;
}

/// <summary>
/// Decodes mapping pairs (libfsntfs §5.4 "Data runs"): a header byte whose low nibble is the
/// size of the length field and high nibble the size of the signed LCN delta; no delta = sparse.
/// Every run must lie inside the volume.
/// </summary>
internal static class RunListDecoder
{
    /// <summary>No real volume has this many clusters (2^48 × 64 KiB = 16 EiB).</summary>
    private const long MaxVcn = 1L << 48;

    public static List<DataRun> Decode(ReadOnlySpan<byte> pairs, long lowestVcn, long highestVcn, long totalClusters, string what)
    {
        var runs = new List<DataRun>();
        long vcn = lowestVcn, lcn = 0;
        int pos = 0;
        while (pos < pairs.Length && pairs[pos] != 0)
        {
            byte header = pairs[pos++];
            int lengthBytes = header & 0x0F, deltaBytes = header >> 4;
            if (lengthBytes == 0 || lengthBytes > 8 || deltaBytes > 8 || pos + lengthBytes + deltaBytes > pairs.Length)
                throw new FileSystemCorruptException($"{what}: malformed data run header 0x{header:x2}");
            long length = ReadSigned(pairs.Slice(pos, lengthBytes));
            pos += lengthBytes;
            if (length <= 0 || length > MaxVcn || vcn + length > MaxVcn)
                throw new FileSystemCorruptException($"{what}: data run of {length} clusters is absurd");
            long runLcn = -1;
            if (deltaBytes > 0)
            {
                lcn += ReadSigned(pairs.Slice(pos, deltaBytes));
                pos += deltaBytes;
                if (lcn < 0 || lcn > totalClusters || length > totalClusters - lcn)
                    throw new FileSystemCorruptException($"{what}: data run at cluster {lcn}+{length} points past the {totalClusters}-cluster volume");
                runLcn = lcn;
            }
            runs.Add(new DataRun(vcn, length, runLcn));
            vcn += length;
        }
        if (highestVcn >= lowestVcn && vcn > highestVcn + 1)
            throw new FileSystemCorruptException($"{what}: data runs reach VCN {vcn - 1}, beyond the declared last VCN {highestVcn}");
        return runs;
    }

    private static long ReadSigned(ReadOnlySpan<byte> b)
    {
        long v = 0;
        for (int i = b.Length - 1; i >= 0; i--) v = (v << 8) | b[i];
        int shift = 64 - 8 * b.Length;
        return shift == 0 ? v : (v << shift) >> shift;
    }
}
