using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// Extended attributes of an inode: those stored after i_extra_isize inside the inode and those
/// in the inode's xattr block (kernel fs/ext4/xattr.h). Values kept in a separate EA inode
/// (ea_inode feature) are read through <c>readEaInode</c>. Every offset and size is bounds-checked.
/// </summary>
internal sealed class ExtXattrReader(ExtSuperblock sb, ExtMetadataReader metadata, ExtChecksumPolicy checksums)
{
    private const uint Magic = 0xEA020000;
    /// <summary>The kernel's limit on one value (XATTR_SIZE_MAX).</summary>
    public const int MaxValueSize = 65536;

    private static readonly string[] Prefixes = ["", "user.", "system.posix_acl_access", "system.posix_acl_default", "trusted.", "", "security.", "system.", "system.richacl"];

    public List<(string Name, byte[] Value)> Read(ExtInode inode, Func<uint, int, byte[]> readEaInode)
    {
        var result = new List<(string, byte[])>();
        int start = inode.ExtraEnd;
        var raw = inode.Raw.AsSpan();
        if (start + 4 <= raw.Length && BinaryPrimitives.ReadUInt32LittleEndian(raw[start..]) == Magic)
        {
            var region = raw[(start + 4)..];
            ParseEntries(region, 0, region, $"ext inode {inode.Number} in-inode xattrs", result, readEaInode);
        }
        if (inode.FileAcl != 0)
        {
            string where = $"ext inode {inode.Number} xattr block {inode.FileAcl}";
            var block = metadata.ReadBlock(inode.FileAcl, where);
            if (BinaryPrimitives.ReadUInt32LittleEndian(block) != Magic) throw new FileSystemCorruptException($"{where}: bad magic");
            if (sb.MetadataCsum)
            {
                Span<byte> number = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(number, inode.FileAcl);
                uint crc = ExtChecksum.Crc32c(sb.ChecksumSeed, number);
                crc = ExtChecksum.Crc32c(crc, block.AsSpan(0, 0x10));
                crc = ExtChecksum.Crc32c(crc, 0u);
                crc = ExtChecksum.Crc32c(crc, block.AsSpan(0x14));
                if (crc != BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(0x10))) checksums.Mismatch(where);
            }
            ParseEntries(block, 32, block, where, result, readEaInode);
        }
        return result;
    }

    /// <summary>
    /// An ACL as ext4 stores it (version 1; short 4-byte entries for the owner, group, mask and other,
    /// 8-byte ones with an id for named users and groups) in the POSIX xattr form getxattr returns
    /// (version 2, every entry 8 bytes, id 0xFFFFFFFF where there is none) — kernel ext4_acl_from_disk.
    /// </summary>
    public static byte[] ToPosixAcl(ReadOnlySpan<byte> disk, string where)
    {
        if (disk.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(disk) != 1) throw new FileSystemCorruptException($"{where}: not an ext4 ACL (version 1)");
        var result = new List<byte>(8 + disk.Length * 2) { 2, 0, 0, 0 };
        Span<byte> entry = stackalloc byte[8];
        for (int pos = 4; pos < disk.Length;)
        {
            if (pos + 4 > disk.Length) throw new FileSystemCorruptException($"{where}: ACL entry at {pos} runs past the end");
            ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(disk[pos..]);
            bool named = tag is 0x02 or 0x08; // ACL_USER, ACL_GROUP
            if (named && pos + 8 > disk.Length) throw new FileSystemCorruptException($"{where}: ACL entry at {pos} runs past the end");
            disk.Slice(pos, 4).CopyTo(entry);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], named ? BinaryPrimitives.ReadUInt32LittleEndian(disk[(pos + 4)..]) : uint.MaxValue);
            result.AddRange(entry);
            pos += named ? 8 : 4;
        }
        return result.ToArray();
    }

    /// <param name="entries">Where the entry list is (starting at <paramref name="first"/>).</param>
    /// <param name="values">What e_value_offs is relative to.</param>
    private static void ParseEntries(ReadOnlySpan<byte> entries, int first, ReadOnlySpan<byte> values, string where,
        List<(string, byte[])> result, Func<uint, int, byte[]> readEaInode)
    {
        int pos = first;
        while (pos + 4 <= entries.Length && BinaryPrimitives.ReadUInt32LittleEndian(entries[pos..]) != 0)
        {
            if (pos + 16 > entries.Length) throw new FileSystemCorruptException($"{where}: entry at {pos} runs past the end");
            int nameLen = entries[pos], index = entries[pos + 1];
            int valueOffset = BinaryPrimitives.ReadUInt16LittleEndian(entries[(pos + 2)..]);
            uint valueInode = BinaryPrimitives.ReadUInt32LittleEndian(entries[(pos + 4)..]);
            uint valueSize = BinaryPrimitives.ReadUInt32LittleEndian(entries[(pos + 8)..]);
            if (pos + 16 + nameLen > entries.Length) throw new FileSystemCorruptException($"{where}: name of entry at {pos} runs past the end");
            string prefix = index < Prefixes.Length ? Prefixes[index] : $"unknown{index}.";
            string name = prefix + Encoding.UTF8.GetString(entries.Slice(pos + 16, nameLen));
            if (valueSize > MaxValueSize) throw new FileSystemCorruptException($"{where}: value of '{name}' is {valueSize} bytes (more than {MaxValueSize})");
            byte[] value;
            if (valueInode != 0) value = readEaInode(valueInode, (int)valueSize);
            else
            {
                if (valueOffset + (long)valueSize > values.Length) throw new FileSystemCorruptException($"{where}: value of '{name}' lies outside the xattr area");
                value = values.Slice(valueOffset, (int)valueSize).ToArray();
            }
            result.Add((name, value));
            pos += (16 + nameLen + 3) & ~3;
        }
    }
}
