using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>One name in a directory: the raw entry before the child inode is read.</summary>
internal readonly record struct XfsDirEntry(string Name, ulong Inode);

/// <summary>
/// Lists version 2 directories ("Directories" in XFS Algorithms &amp; Data Structures): shortform
/// (xfs_dir2_sf in the inode), and the block, leaf, node and btree forms, whose names all live in
/// data blocks below XFS_DIR2_LEAF_OFFSET (32 GiB); the leaf/free index blocks above it are
/// hash lookups this reader does not need.
/// </summary>
internal sealed class XfsDirectoryReader(XfsSuperblock sb, XfsFileDataReader data)
{
    private const long LeafOffset = 32L << 30; // XFS_DIR2_LEAF_OFFSET

    private const uint BlockMagicV4 = 0x58443242; // "XD2B"
    private const uint BlockMagicV5 = 0x58444233; // "XDB3"
    private const uint DataMagicV4 = 0x58443244;  // "XD2D"
    private const uint DataMagicV5 = 0x58444433;  // "XDD3"

    // xfs_dir2_data_hdr (magic + 3 bestfree) and xfs_dir3_data_hdr (xfs_dir3_blk_hdr + bestfree + pad).
    private const int HeaderSizeV4 = 16, HeaderSizeV5 = 64;
    private const int OffCrcV5 = 4, OffBlknoV5 = 8, OffOwnerV5 = 40;
    private const int BlockTailSize = 8, LeafEntrySize = 8; // xfs_dir2_block_tail, xfs_dir2_leaf_entry
    private const ushort FreeTag = 0xffff;                  // XFS_DIR2_DATA_FREE_TAG

    public List<XfsDirEntry> Read(XfsInode dir)
    {
        var entries = new List<XfsDirEntry>();
        switch (dir.Format)
        {
            case XfsForkFormat.Local: ReadShortform(dir, entries); break;
            case XfsForkFormat.Extents or XfsForkFormat.Btree: ReadDataBlocks(dir, entries); break;
            default: throw Corrupt(dir, $"directory data fork format {dir.Format}");
        }
        return entries;
    }

    /// <summary>xfs_dir2_sf_hdr {count, i8count, parent} then entries {namelen, offset[2], name, [ftype], inumber(4 or 8)}.</summary>
    private void ReadShortform(XfsInode dir, List<XfsDirEntry> output)
    {
        if (dir.Size > dir.DataFork.Length || dir.Size < 6) throw Corrupt(dir, $"shortform size {dir.Size} does not fit the data fork");
        ReadOnlySpan<byte> sf = dir.DataFork.AsSpan(0, (int)dir.Size);
        int count = sf[0], i8count = sf[1];
        int inoSize = i8count > 0 ? 8 : 4;
        int p = 2 + inoSize;
        if (p > sf.Length) throw Corrupt(dir, "shortform header truncated");
        for (int i = 0; i < count; i++)
        {
            if (p + 3 > sf.Length) throw Corrupt(dir, $"shortform entry {i} truncated");
            int nameLen = sf[p];
            int nameAt = p + 3;
            int inoAt = nameAt + nameLen + (sb.HasFtype ? 1 : 0);
            if (nameLen == 0 || inoAt + inoSize > sf.Length) throw Corrupt(dir, $"shortform entry {i} overruns the directory");
            ulong ino = inoSize == 8 ? BinaryPrimitives.ReadUInt64BigEndian(sf[inoAt..]) : BinaryPrimitives.ReadUInt32BigEndian(sf[inoAt..]);
            output.Add(new XfsDirEntry(DecodeName(sf.Slice(nameAt, nameLen)), CheckInode(dir, ino)));
            p = inoAt + inoSize;
        }
    }

    private void ReadDataBlocks(XfsInode dir, List<XfsDirEntry> output)
    {
        int dirBlockSize = sb.DirBlockSize;
        ulong blocksPerDirBlock = (ulong)(dirBlockSize >> sb.BlockLog);
        ulong leafBlock = (ulong)LeafOffset >> sb.BlockLog;
        byte[] block = new byte[dirBlockSize];
        ulong nextDirBlock = 0;
        foreach (var e in data.GetExtents(dir))
        {
            if (e.FileBlock >= leafBlock) break;
            // Visit every directory block that starts inside this extent.
            ulong first = Math.Max(nextDirBlock, (e.FileBlock + blocksPerDirBlock - 1) / blocksPerDirBlock * blocksPerDirBlock);
            for (ulong fb = first; fb < e.FileBlockEnd && fb < leafBlock; fb += blocksPerDirBlock)
            {
                long offset = (long)(fb << sb.BlockLog);
                block.AsSpan().Clear();
                data.Read(dir, block, offset, offset + dirBlockSize);
                ParseDataBlock(dir, block, offset, output);
                nextDirBlock = fb + blocksPerDirBlock;
            }
        }
    }

    private void ParseDataBlock(XfsInode dir, byte[] block, long logicalOffset, List<XfsDirEntry> output)
    {
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(block);
        bool isBlockForm;
        if (sb.HasCrc)
        {
            if (magic != BlockMagicV5 && magic != DataMagicV5) throw Corrupt(dir, $"data block at {logicalOffset} has bad magic 0x{magic:x8}");
            isBlockForm = magic == BlockMagicV5;
            if (!XfsChecksum.IsValid(block, OffCrcV5)) throw Corrupt(dir, $"data block at {logicalOffset} CRC mismatch");
            if (BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(OffOwnerV5)) != dir.Number)
                throw Corrupt(dir, $"data block at {logicalOffset} belongs to another inode");
        }
        else
        {
            if (magic != BlockMagicV4 && magic != DataMagicV4) throw Corrupt(dir, $"data block at {logicalOffset} has bad magic 0x{magic:x8}");
            isBlockForm = magic == BlockMagicV4;
        }

        int start = sb.HasCrc ? HeaderSizeV5 : HeaderSizeV4;
        int end = block.Length;
        if (isBlockForm)
        {
            // The block form keeps its hash leaf entries and a tail at the end of the block.
            uint leafCount = BinaryPrimitives.ReadUInt32BigEndian(block.AsSpan(block.Length - BlockTailSize));
            long leafBytes = (long)leafCount * LeafEntrySize;
            if (leafBytes > block.Length - BlockTailSize - start) throw Corrupt(dir, $"block tail count {leafCount} is too large");
            end = block.Length - BlockTailSize - (int)leafBytes;
        }

        int p = start;
        while (p < end)
        {
            if (end - p < 8) throw Corrupt(dir, $"entry at {logicalOffset + p} overruns the data block");
            if (BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(p)) == FreeTag)
            {
                int length = BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(p + 2));
                if (length < 8 || length % 8 != 0 || length > end - p)
                    throw Corrupt(dir, $"unused entry at {logicalOffset + p} has bad length {length}");
                p += length;
                continue;
            }
            ulong ino = BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(p));
            int nameLen = block[p + 8];
            int entrySize = (8 + 1 + nameLen + (sb.HasFtype ? 1 : 0) + 2 + 7) & ~7;
            if (nameLen == 0 || entrySize > end - p) throw Corrupt(dir, $"entry at {logicalOffset + p} has bad name length {nameLen}");
            ushort tag = BinaryPrimitives.ReadUInt16BigEndian(block.AsSpan(p + entrySize - 2));
            if (tag != p) throw Corrupt(dir, $"entry at {logicalOffset + p} has tag {tag}");
            ReadOnlySpan<byte> name = block.AsSpan(p + 9, nameLen);
            if (!IsDotOrDotDot(name)) output.Add(new XfsDirEntry(DecodeName(name), CheckInode(dir, ino)));
            p += entrySize;
        }
    }

    private static bool IsDotOrDotDot(ReadOnlySpan<byte> name) =>
        name.Length == 1 && name[0] == (byte)'.' || name.Length == 2 && name[0] == (byte)'.' && name[1] == (byte)'.';

    private ulong CheckInode(XfsInode dir, ulong ino) =>
        sb.IsValidInode(ino) ? ino : throw Corrupt(dir, $"entry points at invalid inode {ino}");

    /// <summary>XFS names are bytes; Linux tools treat them as UTF-8.</summary>
    private static string DecodeName(ReadOnlySpan<byte> name) => Encoding.UTF8.GetString(name);

    private static FileSystemCorruptException Corrupt(XfsInode dir, string what) => new($"XFS directory inode {dir.Number}: {what}");
}
