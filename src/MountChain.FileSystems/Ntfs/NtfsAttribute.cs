using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// One attribute of a file, resident or non-resident. A non-resident attribute split over several
/// MFT records (via $ATTRIBUTE_LIST) is merged into one with the runs of all fragments.
/// Immutable once built, so it can be shared between threads.
/// </summary>
internal sealed class NtfsAttribute
{
    public required uint Type { get; init; }
    public required string Name { get; init; }
    public ushort Flags { get; init; }
    public ushort Id { get; init; }
    /// <summary>Record the attribute header lives in.</summary>
    public long RecordNumber { get; init; }
    public byte[]? ResidentValue { get; init; }
    public bool IsResident => ResidentValue != null;
    public long LowestVcn { get; init; }
    public long HighestVcn { get; init; }
    /// <summary>log2 of the clusters per compression unit; 0 when not compressed.</summary>
    public int CompressionUnitLog2 { get; init; }
    public long AllocatedSize { get; init; }
    public long DataSize { get; init; }
    public long InitializedSize { get; init; }
    public IReadOnlyList<DataRun> Runs { get; init; } = [];

    public long Length => ResidentValue?.LongLength ?? DataSize;
    public bool IsCompressed => !IsResident && (Flags & AttributeLayout.FlagCompressed) != 0 && CompressionUnitLog2 > 0;
    public bool IsEncrypted => (Flags & AttributeLayout.FlagEncrypted) != 0;

    /// <summary>Parses the attribute record at the start of <paramref name="rec"/> (already bounded by its length field).</summary>
    public static NtfsAttribute Parse(ReadOnlySpan<byte> rec, long recordNumber, long totalClusters, string what)
    {
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(rec[AttributeLayout.Type..]);
        bool nonResident = rec[AttributeLayout.NonResident] != 0;
        int nameLength = rec[AttributeLayout.NameLength];
        int nameOffset = BinaryPrimitives.ReadUInt16LittleEndian(rec[AttributeLayout.NameOffset..]);
        string attrWhat = $"{what} attribute 0x{type:x}";
        if (nameLength > 0 && nameOffset + nameLength * 2 > rec.Length)
            throw new FileSystemCorruptException($"{attrWhat}: name lies outside the attribute");
        string name = nameLength == 0 ? "" : Encoding.Unicode.GetString(rec.Slice(nameOffset, nameLength * 2));
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(rec[AttributeLayout.Flags..]);
        ushort id = BinaryPrimitives.ReadUInt16LittleEndian(rec[AttributeLayout.Id..]);
        if (!nonResident)
        {
            if (rec.Length < AttributeLayout.ResidentHeaderSize)
                throw new FileSystemCorruptException($"{attrWhat}: resident header truncated");
            uint valueLength = BinaryPrimitives.ReadUInt32LittleEndian(rec[AttributeLayout.ValueLength..]);
            int valueOffset = BinaryPrimitives.ReadUInt16LittleEndian(rec[AttributeLayout.ValueOffset..]);
            if (valueOffset > rec.Length || valueLength > (uint)(rec.Length - valueOffset))
                throw new FileSystemCorruptException($"{attrWhat}: resident value ({valueLength} bytes at 0x{valueOffset:x}) lies outside the attribute");
            return new NtfsAttribute
            {
                Type = type, Name = name, Flags = flags, Id = id, RecordNumber = recordNumber,
                ResidentValue = rec.Slice(valueOffset, (int)valueLength).ToArray(),
            };
        }
        if (rec.Length < AttributeLayout.NonResidentHeaderSize)
            throw new FileSystemCorruptException($"{attrWhat}: non-resident header truncated");
        long lowest = BinaryPrimitives.ReadInt64LittleEndian(rec[AttributeLayout.LowestVcn..]);
        long highest = BinaryPrimitives.ReadInt64LittleEndian(rec[AttributeLayout.HighestVcn..]);
        int mpo = BinaryPrimitives.ReadUInt16LittleEndian(rec[AttributeLayout.MappingPairsOffset..]);
        int cu = rec[AttributeLayout.CompressionUnit];
        long allocated = BinaryPrimitives.ReadInt64LittleEndian(rec[AttributeLayout.AllocatedSize..]);
        long dataSize = BinaryPrimitives.ReadInt64LittleEndian(rec[AttributeLayout.DataSize..]);
        long initialized = BinaryPrimitives.ReadInt64LittleEndian(rec[AttributeLayout.InitializedSize..]);
        if (lowest < 0 || highest < -1 || mpo < AttributeLayout.NonResidentHeaderSize || mpo > rec.Length || cu > 16)
            throw new FileSystemCorruptException($"{attrWhat}: non-resident header is inconsistent (VCN {lowest}..{highest}, mapping pairs at 0x{mpo:x}, compression unit {cu})");
        if (lowest == 0 && (allocated < 0 || dataSize < 0 || initialized < 0 || dataSize > allocated && (flags & AttributeLayout.FlagCompressed) == 0 || initialized > dataSize))
            throw new FileSystemCorruptException($"{attrWhat}: sizes are inconsistent (allocated {allocated}, data {dataSize}, initialized {initialized})");
        var runs = RunListDecoder.Decode(rec[mpo..], lowest, highest, totalClusters, attrWhat);
        return new NtfsAttribute
        {
            Type = type, Name = name, Flags = flags, Id = id, RecordNumber = recordNumber,
            LowestVcn = lowest, HighestVcn = highest, CompressionUnitLog2 = cu,
            AllocatedSize = allocated, DataSize = dataSize, InitializedSize = initialized, Runs = runs,
        };
    }

    /// <summary>Joins the fragments of one non-resident attribute (sorted by VCN, contiguous).</summary>
    public static NtfsAttribute Merge(List<NtfsAttribute> fragments, int clusterSize, string what)
    {
        fragments.Sort((a, b) => a.LowestVcn.CompareTo(b.LowestVcn));
        var first = fragments[0];
        if (first.LowestVcn != 0)
            throw new FileSystemCorruptException($"{what}: attribute 0x{first.Type:x} has no fragment starting at VCN 0");
        var runs = new List<DataRun>(first.Runs);
        long next = runs.Count > 0 ? runs[^1].EndVcn : 0;
        for (int i = 1; i < fragments.Count; i++)
        {
            var f = fragments[i];
            if (f.IsResident || f.LowestVcn != next)
                throw new FileSystemCorruptException($"{what}: attribute 0x{first.Type:x} fragment at VCN {f.LowestVcn} does not continue VCN {next}");
            runs.AddRange(f.Runs);
            next = runs.Count > 0 ? runs[^1].EndVcn : next;
        }
        var merged = new NtfsAttribute
        {
            Type = first.Type, Name = first.Name, Flags = first.Flags, Id = first.Id, RecordNumber = first.RecordNumber,
            LowestVcn = 0, HighestVcn = next - 1, CompressionUnitLog2 = first.CompressionUnitLog2,
            AllocatedSize = first.AllocatedSize, DataSize = first.DataSize, InitializedSize = first.InitializedSize, Runs = runs,
        };
        merged.CheckCoverage(clusterSize, what);
        return merged;
    }

    /// <summary>The runs must cover the data (a compressed attribute's holes are runs too).</summary>
    public void CheckCoverage(int clusterSize, string what)
    {
        if (IsResident) return;
        long covered = Runs.Count > 0 ? Runs[^1].EndVcn : 0;
        long needed = (DataSize + clusterSize - 1) / clusterSize;
        if (IsCompressed)
        {
            long unit = 1L << CompressionUnitLog2;
            needed = (needed + unit - 1) / unit * unit;
            // ntfs-3g may leave the final unit's tail unmapped; only require the data's clusters.
            needed = Math.Min(needed, (DataSize + clusterSize - 1) / clusterSize);
        }
        if (covered < needed)
            throw new FileSystemCorruptException($"{what}: attribute 0x{Type:x} runs cover {covered} clusters but its data needs {needed}");
    }
}
