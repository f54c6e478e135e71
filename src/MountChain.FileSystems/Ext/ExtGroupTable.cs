using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// Finds block groups' inode tables through the group descriptor table: contiguous after the
/// superblock, or with meta_bg one descriptor block at the start of each meta group (kernel
/// ext4_descriptor_loc). Descriptors are read on demand through the metadata cache.
/// </summary>
internal sealed class ExtGroupTable(ExtSuperblock sb, ExtMetadataReader metadata, ExtChecksumPolicy checksums)
{
    private const ushort FlagInodeUninit = 0x1;
    private readonly int _perBlock = sb.BlockSize / sb.DescriptorSize;

    /// <summary>Byte offset of inode <paramref name="ino"/> (1-based) in the volume.</summary>
    public long InodeOffset(uint ino)
    {
        if (ino == 0 || ino > sb.InodeCount) throw new FileSystemCorruptException($"ext inode {ino}: number lies outside 1..{sb.InodeCount}");
        uint group = (ino - 1) / sb.InodesPerGroup, index = (ino - 1) % sb.InodesPerGroup;
        var desc = Descriptor(group);
        ulong table = BinaryPrimitives.ReadUInt32LittleEndian(desc[0x8..]);
        if (sb.Is64Bit && sb.DescriptorSize >= 64) table |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(desc[0x28..]) << 32;
        long tableBlocks = ((long)sb.InodesPerGroup * sb.InodeSize + sb.BlockSize - 1) >> sb.BlockLog;
        if (table == 0 || table + (ulong)tableBlocks > (ulong)sb.BlockCount)
            throw new FileSystemCorruptException($"ext group {group} descriptor: inode table at block {table} lies outside the file system");
        return ((long)table << sb.BlockLog) + (long)index * sb.InodeSize;
    }

    /// <summary>True when the group's inode table was never initialised (its inodes are all unused).</summary>
    public bool InodeTableUninitialised(uint ino)
    {
        uint group = (ino - 1) / sb.InodesPerGroup;
        return (BinaryPrimitives.ReadUInt16LittleEndian(Descriptor(group)[0x12..]) & FlagInodeUninit) != 0
            && (sb.RoCompat & (ExtRoCompat.GdtCsum | ExtRoCompat.MetadataCsum)) != 0;
    }

    private ReadOnlySpan<byte> Descriptor(uint group)
    {
        if (group >= sb.GroupCount) throw new FileSystemCorruptException($"ext group {group}: beyond the {sb.GroupCount} groups");
        uint metaGroup = group / (uint)_perBlock;
        ulong block;
        if ((sb.Incompat & ExtIncompat.MetaBg) == 0 || metaGroup < sb.FirstMetaBg)
            block = sb.FirstDataBlock + 1UL + metaGroup;
        else
        {
            uint first = metaGroup * (uint)_perBlock;
            block = sb.FirstDataBlock + (ulong)first * sb.BlocksPerGroup + (sb.GroupHasSuperblock(first) ? 1UL : 0UL);
        }
        var data = metadata.ReadBlock(block, $"ext group {group} descriptor");
        var desc = data.AsSpan((int)(group % (uint)_perBlock) * sb.DescriptorSize, sb.DescriptorSize);
        if (sb.MetadataCsum)
        {
            uint crc = ExtChecksum.Crc32c(sb.ChecksumSeed, group);
            crc = ExtChecksum.Crc32c(crc, desc[..0x1E]);
            crc = ExtChecksum.Crc32c(crc, [0, 0]);
            crc = ExtChecksum.Crc32c(crc, desc[0x20..]);
            if ((ushort)crc != BinaryPrimitives.ReadUInt16LittleEndian(desc[0x1E..])) checksums.Mismatch($"ext group {group} descriptor");
        }
        return desc;
    }
}
