using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>One MFT record after fix-ups: header fields and its attribute records.</summary>
internal sealed class MftRecord
{
    public required long Number { get; init; }
    public bool InUse { get; init; }
    public bool IsDirectory { get; init; }
    public ushort SequenceNumber { get; init; }
    public ushort LinkCount { get; init; }
    /// <summary>Record number of the base record, or -1 for a base record.</summary>
    public long BaseRecord { get; init; } = -1;
    public List<NtfsAttribute> Attributes { get; init; } = [];

    /// <summary>An all-zero record: never used.</summary>
    public static MftRecord Empty(long number) => new() { Number = number };

    /// <summary>Parses a record in place (fix-ups are applied to <paramref name="buf"/>).</summary>
    public static MftRecord Parse(Span<byte> buf, long number, long totalClusters)
    {
        string what = $"NTFS MFT record {number}";
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(buf);
        if (magic == 0 && !buf.ContainsAnyExcept((byte)0)) return Empty(number);
        if (magic == MftRecordLayout.MagicBaad)
            throw new FileSystemCorruptException($"{what}: marked BAAD (incomplete multi-sector write)");
        if (magic != MftRecordLayout.MagicFile)
            throw new FileSystemCorruptException($"{what}: bad signature 0x{magic:x8} (expected \"FILE\")");
        UpdateSequence.Apply(buf, what);

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(buf[MftRecordLayout.Flags..]);
        int firstAttr = BinaryPrimitives.ReadUInt16LittleEndian(buf[MftRecordLayout.FirstAttributeOffset..]);
        uint bytesInUse = BinaryPrimitives.ReadUInt32LittleEndian(buf[MftRecordLayout.BytesInUse..]);
        if (bytesInUse > buf.Length || firstAttr < MftRecordLayout.HeaderMinSize - 8 || firstAttr >= bytesInUse)
            throw new FileSystemCorruptException($"{what}: header is inconsistent (first attribute at 0x{firstAttr:x}, {bytesInUse} bytes in use of {buf.Length})");
        ulong baseRef = BinaryPrimitives.ReadUInt64LittleEndian(buf[MftRecordLayout.BaseRecord..]);
        var record = new MftRecord
        {
            Number = number,
            InUse = (flags & MftRecordLayout.FlagInUse) != 0,
            IsDirectory = (flags & MftRecordLayout.FlagDirectory) != 0,
            SequenceNumber = BinaryPrimitives.ReadUInt16LittleEndian(buf[MftRecordLayout.SequenceNumber..]),
            LinkCount = BinaryPrimitives.ReadUInt16LittleEndian(buf[MftRecordLayout.LinkCount..]),
            BaseRecord = baseRef == 0 ? -1 : (long)(baseRef & 0x0000FFFFFFFFFFFF),
        };
        if (!record.InUse) return record;
        int off = firstAttr;
        var used = buf[..(int)bytesInUse];
        while (true)
        {
            if (off + 8 > used.Length)
                throw new FileSystemCorruptException($"{what}: attribute list runs past the bytes in use (no end marker)");
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(used[off..]);
            if (type == AttributeLayout.End) break;
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(used[(off + 4)..]);
            if (length < AttributeLayout.ResidentHeaderSize || length > used.Length - off)
                throw new FileSystemCorruptException($"{what}: attribute 0x{type:x} at 0x{off:x} has invalid length {length}");
            record.Attributes.Add(NtfsAttribute.Parse(used.Slice(off, (int)length), number, totalClusters, what));
            off += (int)length;
        }
        return record;
    }
}
