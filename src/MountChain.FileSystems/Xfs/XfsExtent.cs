using System.Buffers.Binary;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// One block-map record (xfs_bmbt_rec, 128 bits big-endian): bit 127 unwritten flag, 54 bits file
/// offset, 52 bits absolute fs block, 21 bits block count ("Data Extents" in XFS Algorithms &amp; Data Structures).
/// </summary>
internal readonly record struct XfsExtent(ulong FileBlock, ulong StartBlock, ulong BlockCount, bool Unwritten)
{
    public const int RecordSize = 16;

    public ulong FileBlockEnd => FileBlock + BlockCount;

    public static XfsExtent Decode(ReadOnlySpan<byte> record)
    {
        ulong l0 = BinaryPrimitives.ReadUInt64BigEndian(record);
        ulong l1 = BinaryPrimitives.ReadUInt64BigEndian(record[8..]);
        return new XfsExtent(
            FileBlock: (l0 & ((1UL << 63) - 1)) >> 9,
            StartBlock: ((l0 & ((1UL << 9) - 1)) << 43) | (l1 >> 21),
            BlockCount: l1 & ((1UL << 21) - 1),
            Unwritten: (l0 >> 63) != 0);
    }
}
