using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>One live directory entry (inode ≠ 0, not "." or "..").</summary>
internal readonly record struct ExtDirEntry(string Name, uint Inode, byte FileType);

/// <summary>
/// Reads every entry of a directory: linear blocks, and htree directories read the same way (their
/// index blocks look like one empty entry spanning the block, so a linear pass sees only the leaf
/// entries), or inline data (i_block after the 4-byte parent, then the "system.data" xattr).
/// rec_len and name_len are checked against the block; a metadata_csum tail is verified.
/// </summary>
internal sealed class ExtDirectoryReader(ExtSuperblock sb, ExtFileDataReader data, ExtChecksumPolicy checksums)
{
    /// <summary>A directory larger than this (bytes) is refused: 2 GiB is the largedir limit of the kernel.</summary>
    private const long MaxDirectorySize = 2L << 30;
    /// <summary>At most this many entries are kept from one directory (about 100 MB of names would be needed to pass it).</summary>
    private const int MaxEntries = 4_000_000;

    public List<ExtDirEntry> Read(ExtInode dir, byte[]? inlineContinuation)
    {
        var result = new List<ExtDirEntry>();
        if (dir.HasInlineData)
        {
            string where = $"ext directory inode {dir.Number} inline data";
            ParseBlock(dir.BlockArray[4..], where, result, false);
            if (inlineContinuation is { Length: > 0 }) ParseBlock(inlineContinuation, where, result, false);
            return result;
        }
        if (dir.Size > MaxDirectorySize || dir.Size % sb.BlockSize != 0)
            throw new FileSystemCorruptException($"ext directory inode {dir.Number}: size {dir.Size} is not a whole number of blocks up to {MaxDirectorySize}");
        var block = new byte[sb.BlockSize];
        bool htree = (dir.Flags & ExtInode.FlagIndex) != 0;
        for (long offset = 0; offset < dir.Size; offset += sb.BlockSize)
        {
            data.Read(dir, block, offset);
            string where = $"ext directory inode {dir.Number} block {offset >> sb.BlockLog}";
            ParseBlock(block, where, result, sb.MetadataCsum && !(htree && IsIndexBlock(block, offset)), dir);
        }
        return result;
    }

    /// <summary>An htree root (block 0) or interior node: its first entry spans the whole block after "." / "..", or is empty.</summary>
    private bool IsIndexBlock(ReadOnlySpan<byte> block, long offset)
    {
        if (offset == 0) return true;
        return BinaryPrimitives.ReadUInt32LittleEndian(block) == 0 && RecordLength(block, 0) == sb.BlockSize;
    }

    private int RecordLength(ReadOnlySpan<byte> block, int pos)
    {
        int len = BinaryPrimitives.ReadUInt16LittleEndian(block[(pos + 4)..]);
        // With 64 KiB blocks 65536 does not fit 16 bits (kernel ext4_rec_len_from_disk).
        if (sb.BlockSize == 65536 && (len == 65535 || len == 0)) return 65536;
        return len;
    }

    private void ParseBlock(ReadOnlySpan<byte> block, string where, List<ExtDirEntry> result, bool checkTail, ExtInode? dir = null)
    {
        int end = block.Length;
        if (checkTail && dir != null)
        {
            // struct ext4_dir_entry_tail: inode 0, rec_len 12, name_len 0, file type 0xDE, crc32c.
            int t = block.Length - 12;
            if (BinaryPrimitives.ReadUInt32LittleEndian(block[t..]) == 0 && BinaryPrimitives.ReadUInt16LittleEndian(block[(t + 4)..]) == 12 && block[t + 7] == 0xDE)
            {
                uint crc = ExtChecksum.Crc32c(ExtChecksum.InodeSeed(sb.ChecksumSeed, dir.Number, dir.Generation), block[..t]);
                if (crc != BinaryPrimitives.ReadUInt32LittleEndian(block[(t + 8)..])) checksums.Mismatch(where);
            }
        }
        int pos = 0;
        while (pos + 8 <= end)
        {
            uint inode = BinaryPrimitives.ReadUInt32LittleEndian(block[pos..]);
            int recLen = RecordLength(block, pos);
            int nameLen = sb.HasFileType ? block[pos + 6] : BinaryPrimitives.ReadUInt16LittleEndian(block[(pos + 6)..]) & 0xFF;
            byte type = sb.HasFileType ? block[pos + 7] : (byte)0;
            if (recLen < 8 || (recLen & 3) != 0 || pos + recLen > end || (inode != 0 && 8 + nameLen > recLen))
                throw new FileSystemCorruptException($"{where}: entry at byte {pos} has an invalid record length {recLen} (name length {nameLen})");
            if (inode != 0)
            {
                if (inode > sb.InodeCount) throw new FileSystemCorruptException($"{where}: entry at byte {pos} names inode {inode}, beyond the {sb.InodeCount} inodes");
                var name = block.Slice(pos + 8, nameLen);
                bool dot = (nameLen == 1 && name[0] == '.') || (nameLen == 2 && name[0] == '.' && name[1] == '.');
                if (!dot && nameLen > 0)
                {
                    if (result.Count >= MaxEntries) throw new FileSystemCorruptException($"{where}: more than {MaxEntries} entries");
                    result.Add(new ExtDirEntry(Encoding.UTF8.GetString(name), inode, type));
                }
            }
            pos += recLen;
        }
    }
}
