using System.Buffers.Binary;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// The $MFT: reads record N through $MFT's own runlist (which may be fragmented and itself need
/// $ATTRIBUTE_LIST), and assembles files from base + extension records.
/// </summary>
internal sealed class MasterFileTable
{
    /// <summary>An $ATTRIBUTE_LIST larger than this is refused (real ones are a few KiB).</summary>
    private const int MaxAttributeListBytes = 4 << 20;
    private const int MaxExtensionRecords = 4096;

    private readonly IBlockDevice _volume;
    private readonly NtfsBootSector _boot;
    private readonly AttributeReader _reader;
    private NtfsAttribute _mftData;

    public MasterFileTable(IBlockDevice volume, NtfsBootSector boot, AttributeReader reader)
    {
        _volume = volume;
        _boot = boot;
        _reader = reader;
        // Bootstrap: record 0 sits at the $MFT's first cluster (libfsntfs §4 "MFT").
        var buf = new byte[boot.MftRecordSize];
        long at = boot.MftLcn * boot.ClusterSize;
        if (at > volume.Length - buf.Length)
            throw new FileSystemCorruptException($"NTFS boot sector: $MFT at byte {at} lies outside the volume");
        volume.Read(buf, at);
        var record0 = MftRecord.Parse(buf, 0, boot.TotalClusters);
        if (!record0.InUse) throw new FileSystemCorruptException("NTFS MFT record 0 ($MFT) is not in use");
        var first = record0.Attributes.FirstOrDefault(a => a.Type == AttributeType.Data && a.Name == "" && !a.IsResident && a.LowestVcn == 0)
            ?? throw new FileSystemCorruptException("NTFS MFT record 0 ($MFT) has no non-resident $DATA attribute");
        _mftData = first;
        if (record0.Attributes.Any(a => a.Type == AttributeType.AttributeList))
        {
            // The first fragment maps the early records, where $MFT's extension records live.
            var file = Assemble(record0);
            _mftData = file.Find(AttributeType.Data) ?? throw new FileSystemCorruptException("NTFS $MFT lost its $DATA attribute while merging");
        }
        else
            _mftData.CheckCoverage(boot.ClusterSize, "NTFS $MFT");
        if (_mftData.DataSize < boot.MftRecordSize * (WellKnownRecords.FirstUser))
            throw new FileSystemCorruptException($"NTFS $MFT is only {_mftData.DataSize} bytes");
    }

    public long RecordCount => _mftData.DataSize / _boot.MftRecordSize;

    public MftRecord ReadRecord(long number)
    {
        if (number < 0 || number >= RecordCount)
            throw new FileSystemCorruptException($"NTFS MFT record {number} lies outside the {RecordCount}-record $MFT");
        var buf = new byte[_boot.MftRecordSize];
        int n = _reader.Read(_mftData, buf, number * _boot.MftRecordSize, $"NTFS $MFT (record {number})");
        if (n != buf.Length) throw new FileSystemCorruptException($"NTFS MFT record {number}: short read");
        return MftRecord.Parse(buf, number, _boot.TotalClusters);
    }

    /// <summary>The file whose base record is <paramref name="number"/>, or null if the record is not in use or not a base record.</summary>
    public NtfsFile? LoadFile(long number)
    {
        var record = ReadRecord(number);
        if (!record.InUse || record.BaseRecord >= 0) return null;
        return Assemble(record);
    }

    private NtfsFile Assemble(MftRecord baseRecord)
    {
        string what = $"NTFS MFT record {baseRecord.Number}";
        var attributes = new List<NtfsAttribute>();
        var list = baseRecord.Attributes.FirstOrDefault(a => a.Type == AttributeType.AttributeList);
        if (list == null)
            attributes.AddRange(baseRecord.Attributes);
        else
        {
            foreach (var a in baseRecord.Attributes) if (a.Type != AttributeType.AttributeList) attributes.Add(a);
            foreach (long ext in ExtensionRecords(list, baseRecord.Number, what))
            {
                var record = ReadRecord(ext);
                if (!record.InUse || record.BaseRecord != baseRecord.Number)
                    throw new FileSystemCorruptException($"{what}: $ATTRIBUTE_LIST names record {ext}, which is not one of its extension records");
                attributes.AddRange(record.Attributes);
            }
        }
        return new NtfsFile
        {
            Number = baseRecord.Number,
            IsDirectory = baseRecord.IsDirectory,
            SequenceNumber = baseRecord.SequenceNumber,
            LinkCount = baseRecord.LinkCount,
            Attributes = MergeFragments(attributes, what),
        };
    }

    private List<long> ExtensionRecords(NtfsAttribute list, long baseNumber, string what)
    {
        if (list.Length > MaxAttributeListBytes)
            throw new FileSystemCorruptException($"{what}: $ATTRIBUTE_LIST of {list.Length} bytes is absurd");
        var bytes = new byte[list.Length];
        int got = _reader.Read(list, bytes, 0, $"{what} $ATTRIBUTE_LIST");
        var span = bytes.AsSpan(0, got);
        var records = new List<long>();
        var seen = new HashSet<long> { baseNumber };
        int off = 0;
        while (off + AttributeListLayout.MinSize <= span.Length)
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(span[(off + AttributeListLayout.EntryLength)..]);
            if (length < AttributeListLayout.MinSize || length > span.Length - off)
                throw new FileSystemCorruptException($"{what}: $ATTRIBUTE_LIST entry at 0x{off:x} has invalid length {length}");
            long reference = (long)(BinaryPrimitives.ReadUInt64LittleEndian(span[(off + AttributeListLayout.Reference)..]) & 0x0000FFFFFFFFFFFF);
            if (seen.Add(reference))
            {
                if (records.Count >= MaxExtensionRecords)
                    throw new FileSystemCorruptException($"{what}: $ATTRIBUTE_LIST names more than {MaxExtensionRecords} extension records");
                records.Add(reference);
            }
            off += length;
        }
        return records;
    }

    private List<NtfsAttribute> MergeFragments(List<NtfsAttribute> attributes, string what)
    {
        var result = new List<NtfsAttribute>();
        var groups = new Dictionary<(uint, string), List<NtfsAttribute>>();
        foreach (var a in attributes)
        {
            if (a.IsResident) { result.Add(a); continue; }
            if (!groups.TryGetValue((a.Type, a.Name), out var g)) groups[(a.Type, a.Name)] = g = [];
            g.Add(a);
        }
        foreach (var g in groups.Values)
            result.Add(g.Count == 1 && g[0].LowestVcn == 0 ? Checked(g[0], what) : NtfsAttribute.Merge(g, _boot.ClusterSize, what));
        return result;
    }

    private NtfsAttribute Checked(NtfsAttribute a, string what)
    {
        a.CheckCoverage(_boot.ClusterSize, what);
        return a;
    }
}
