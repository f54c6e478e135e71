using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// Builds the sorted extent list of an inode's data fork from the extents format (records in the
/// inode) or the btree format (xfs_bmdr root in the inode, xfs_btree_lblock blocks on disk;
/// "B+tree Extent List" in XFS Algorithms &amp; Data Structures). Every count, level and address is
/// checked; a block visited twice is a cycle.
/// </summary>
internal sealed class XfsBlockMapReader(XfsSuperblock sb, XfsMetadataReader metadata)
{
    private const uint BmapMagicV4 = 0x424d4150; // "BMAP"
    private const uint BmapMagicV5 = 0x424d4133; // "BMA3"

    // xfs_btree_lblock header: magic, level, numrecs, leftsib, rightsib; v5 adds blkno, lsn, uuid, owner, crc, pad.
    private const int OffLevel = 4, OffNumRecs = 6, OffBlkno = 24, OffOwner = 56, OffCrc = 64;
    private const int HeaderSizeV4 = 24, HeaderSizeV5 = 72;
    private const int RootHeaderSize = 4; // xfs_bmdr_block: level, numrecs
    private const int KeySize = 8, PtrSize = 8;

    /// <summary>Deeper than any real bmbt (XFS caps it around 9 levels for 64-bit extent counts).</summary>
    private const int MaxLevels = 12;

    public XfsExtent[] Read(XfsInode inode)
    {
        // No file can have more extents than the file system has blocks.
        if (inode.ExtentCount > (ulong)sb.DataBlocks)
            throw Corrupt(inode, $"extent count {inode.ExtentCount} exceeds the {sb.DataBlocks} blocks of the file system");
        var extents = new List<XfsExtent>((int)Math.Min(inode.ExtentCount, 4096));
        switch (inode.Format)
        {
            case XfsForkFormat.Extents:
                if (inode.ExtentCount > (ulong)(inode.DataFork.Length / XfsExtent.RecordSize))
                    throw Corrupt(inode, $"extent count {inode.ExtentCount} does not fit the {inode.DataFork.Length}-byte data fork");
                for (int i = 0; i < (int)inode.ExtentCount; i++)
                    extents.Add(XfsExtent.Decode(inode.DataFork.AsSpan(i * XfsExtent.RecordSize)));
                break;
            case XfsForkFormat.Btree:
                ReadRoot(inode, extents);
                break;
            default:
                throw Corrupt(inode, $"data fork format {inode.Format} has no block map");
        }
        Validate(inode, extents);
        return extents.ToArray();
    }

    private void ReadRoot(XfsInode inode, List<XfsExtent> output)
    {
        ReadOnlySpan<byte> root = inode.DataFork;
        if (root.Length < RootHeaderSize + KeySize + PtrSize) throw Corrupt(inode, "btree root does not fit the data fork");
        int level = BinaryPrimitives.ReadUInt16BigEndian(root);
        int numRecs = BinaryPrimitives.ReadUInt16BigEndian(root[2..]);
        int maxRecs = (root.Length - RootHeaderSize) / (KeySize + PtrSize);
        if (level is < 1 or > MaxLevels) throw Corrupt(inode, $"btree root level {level}");
        if (numRecs < 1 || numRecs > maxRecs) throw Corrupt(inode, $"btree root holds {numRecs} records (max {maxRecs})");
        int ptrBase = RootHeaderSize + maxRecs * KeySize;
        var visited = new HashSet<ulong>();
        for (int i = 0; i < numRecs; i++)
            ReadBlock(inode, BinaryPrimitives.ReadUInt64BigEndian(root[(ptrBase + i * PtrSize)..]), level - 1, visited, output);
    }

    private void ReadBlock(XfsInode inode, ulong fsbno, int expectedLevel, HashSet<ulong> visited, List<XfsExtent> output)
    {
        if (!visited.Add(fsbno)) throw Corrupt(inode, $"btree block {fsbno} is reached twice (cycle)");
        long offset = sb.BlockAddress(fsbno, 1, $"inode {inode.Number} btree");
        byte[] block = metadata.ReadBlock(offset);

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(block);
        int headerSize = sb.HasCrc ? HeaderSizeV5 : HeaderSizeV4;
        if (magic != (sb.HasCrc ? BmapMagicV5 : BmapMagicV4)) throw Corrupt(inode, $"btree block {fsbno} has bad magic 0x{magic:x8}");
        if (sb.HasCrc)
        {
            if (!XfsChecksum.IsValid(block, OffCrc)) throw Corrupt(inode, $"btree block {fsbno} CRC mismatch");
            if (BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(OffOwner)) != inode.Number)
                throw Corrupt(inode, $"btree block {fsbno} belongs to another inode");
            if (BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(OffBlkno)) != XfsSuperblock.ToDaddr(offset))
                throw Corrupt(inode, $"btree block {fsbno} records another disk address");
        }
        int level = BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(OffLevel));
        int numRecs = BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(OffNumRecs));
        if (level != expectedLevel) throw Corrupt(inode, $"btree block {fsbno} has level {level}, expected {expectedLevel}");

        if (level == 0)
        {
            int maxRecs = (block.Length - headerSize) / XfsExtent.RecordSize;
            if (numRecs < 1 || numRecs > maxRecs) throw Corrupt(inode, $"btree leaf {fsbno} holds {numRecs} records (max {maxRecs})");
            if ((ulong)(output.Count + numRecs) > inode.ExtentCount)
                throw Corrupt(inode, $"btree holds more records than the inode's extent count {inode.ExtentCount}");
            for (int i = 0; i < numRecs; i++)
                output.Add(XfsExtent.Decode(block.AsSpan(headerSize + i * XfsExtent.RecordSize)));
        }
        else
        {
            int maxRecs = (block.Length - headerSize) / (KeySize + PtrSize);
            if (numRecs < 1 || numRecs > maxRecs) throw Corrupt(inode, $"btree node {fsbno} holds {numRecs} pointers (max {maxRecs})");
            int ptrBase = headerSize + maxRecs * KeySize;
            for (int i = 0; i < numRecs; i++)
                ReadBlock(inode, BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(ptrBase + i * PtrSize)), level - 1, visited, output);
        }
    }

    /// <summary>Extents must be non-empty, inside the file system and in strictly ascending, non-overlapping file order.</summary>
    private void Validate(XfsInode inode, List<XfsExtent> extents)
    {
        ulong previousEnd = 0;
        foreach (var e in extents)
        {
            if (e.BlockCount == 0) throw Corrupt(inode, $"empty extent at file block {e.FileBlock}");
            if (e.FileBlock < previousEnd) throw Corrupt(inode, $"extent at file block {e.FileBlock} overlaps or is out of order");
            // 54-bit file block numbers: the byte offset must still fit a file offset (2^63 - 1).
            if (e.FileBlockEnd > (ulong)(long.MaxValue >> sb.BlockLog))
                throw Corrupt(inode, $"extent at file block {e.FileBlock}+{e.BlockCount} ends beyond the largest file offset");
            if (!sb.TryGetBlockAddress(e.StartBlock, e.BlockCount, out _))
                throw Corrupt(inode, $"extent {e.StartBlock}+{e.BlockCount} lies outside the file system");
            previousEnd = e.FileBlockEnd;
        }
    }

    private static FileSystemCorruptException Corrupt(XfsInode inode, string what) => new($"XFS inode {inode.Number}: {what}");
}
