using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>Feature bits of the ext2/3/4 superblock (kernel fs/ext4/ext4.h names).</summary>
[Flags]
internal enum ExtIncompat : uint
{
    Compression = 0x1, FileType = 0x2, Recover = 0x4, JournalDev = 0x8, MetaBg = 0x10, Extents = 0x40,
    Is64Bit = 0x80, Mmp = 0x100, FlexBg = 0x200, EaInode = 0x400, DirData = 0x1000, CsumSeed = 0x2000,
    LargeDir = 0x4000, InlineData = 0x8000, Encrypt = 0x10000, Casefold = 0x20000,
}

[Flags]
internal enum ExtRoCompat : uint
{
    SparseSuper = 0x1, LargeFile = 0x2, BtreeDir = 0x4, HugeFile = 0x8, GdtCsum = 0x10, DirNlink = 0x20,
    ExtraIsize = 0x40, Quota = 0x100, BigAlloc = 0x200, MetadataCsum = 0x400, ReadOnly = 0x1000, Project = 0x2000, Verity = 0x8000,
}

/// <summary>
/// The primary ext2/3/4 superblock (1024 bytes at byte 1024 of the volume), validated: block size,
/// group geometry and inode size are checked against each other and the device before any use.
/// </summary>
internal sealed class ExtSuperblock
{
    public const int Offset = 1024;
    public const int Size = 1024;
    private const ushort Magic = 0xEF53;
    private const uint CompatHasJournal = 0x4;

    /// <summary>Incompatible features this reader understands; any other makes the volume unreadable (as the kernel refuses to mount it).</summary>
    private const ExtIncompat Understood = ExtIncompat.FileType | ExtIncompat.Recover | ExtIncompat.MetaBg | ExtIncompat.Extents
        | ExtIncompat.Is64Bit | ExtIncompat.Mmp | ExtIncompat.FlexBg | ExtIncompat.CsumSeed | ExtIncompat.LargeDir | ExtIncompat.InlineData
        | ExtIncompat.EaInode | ExtIncompat.Casefold;

    public required long BlockCount { get; init; }
    public required uint InodeCount { get; init; }
    public required uint FirstDataBlock { get; init; }
    public required int BlockLog { get; init; }
    public int BlockSize => 1 << BlockLog;
    public required uint BlocksPerGroup { get; init; }
    public required uint InodesPerGroup { get; init; }
    public required int InodeSize { get; init; }
    public required uint FirstMetaBg { get; init; }
    public required int DescriptorSize { get; init; }
    public required uint Compat { get; init; }
    public required ExtIncompat Incompat { get; init; }
    public required ExtRoCompat RoCompat { get; init; }
    public required string Label { get; init; }
    public required uint ChecksumSeed { get; init; }
    public required bool SuperblockChecksumValid { get; init; }
    public required ushort State { get; init; }

    public uint GroupCount => (uint)((BlockCount - FirstDataBlock + BlocksPerGroup - 1) / BlocksPerGroup);
    public bool HasJournal => (Compat & CompatHasJournal) != 0;
    /// <summary>The journal holds transactions the kernel would replay at mount; we read the file system as it is on disk without them.</summary>
    public bool NeedsRecovery => (Incompat & ExtIncompat.Recover) != 0;
    public bool MetadataCsum => (RoCompat & ExtRoCompat.MetadataCsum) != 0;
    public bool HasFileType => (Incompat & ExtIncompat.FileType) != 0;
    public bool Is64Bit => (Incompat & ExtIncompat.Is64Bit) != 0;
    public bool HugeFile => (RoCompat & ExtRoCompat.HugeFile) != 0;

    /// <summary>The kind name `volumes` shows: ext4 with extents/64bit/flex_bg, ext3 with a journal, else ext2.</summary>
    public string Kind => (Incompat & (ExtIncompat.Extents | ExtIncompat.Is64Bit | ExtIncompat.FlexBg)) != 0 ? "ext4" : HasJournal ? "ext3" : "ext2";

    public static bool Probe(ReadOnlySpan<byte> superblock) =>
        superblock.Length >= 0x3A && BinaryPrimitives.ReadUInt16LittleEndian(superblock[0x38..]) == Magic;

    /// <param name="sb">The 1024 superblock bytes.</param>
    public static ExtSuperblock Parse(ReadOnlySpan<byte> sb, long deviceLength)
    {
        if (sb.Length < Size || !Probe(sb)) throw new FileSystemCorruptException("ext superblock: no ext2/3/4 signature (0xEF53) at byte 1080");
        uint logBlock = U32(sb, 0x18);
        if (logBlock > 6) throw new FileSystemCorruptException($"ext superblock: block size 2^{10 + logBlock} is not 1 KiB..64 KiB");
        int blockLog = 10 + (int)logBlock;
        uint rev = U32(sb, 0x4C);
        int inodeSize = rev == 0 ? 128 : U16(sb, 0x58);
        if (inodeSize < 128 || inodeSize > (1 << blockLog) || (inodeSize & (inodeSize - 1)) != 0)
            throw new FileSystemCorruptException($"ext superblock: inode size {inodeSize} is invalid");
        var incompat = rev == 0 ? 0 : (ExtIncompat)U32(sb, 0x60);
        var roCompat = rev == 0 ? 0 : (ExtRoCompat)U32(sb, 0x64);
        var unknown = incompat & ~Understood;
        if (unknown != 0) throw new FileSystemUnsupportedException($"ext superblock: incompatible features 0x{(uint)unknown:x} are not supported (e.g. encryption, compression, external journal device)");
        if ((roCompat & ExtRoCompat.BigAlloc) != 0) throw new FileSystemUnsupportedException("ext superblock: bigalloc (cluster allocation) is not supported");
        bool is64 = (incompat & ExtIncompat.Is64Bit) != 0;
        long blocks = U32(sb, 0x4) | (is64 ? (long)U32(sb, 0x150) << 32 : 0);
        uint firstData = U32(sb, 0x14), bpg = U32(sb, 0x20), ipg = U32(sb, 0x28), inodes = U32(sb, 0x0);
        if (blocks == 0) throw new FileSystemCorruptException("ext superblock: block count is 0");
        if (blocks > (deviceLength >> blockLog)) throw new FileSystemCorruptException($"ext superblock: {blocks} blocks of {1 << blockLog} bytes do not fit the {deviceLength}-byte volume");
        if (bpg == 0 || bpg > 8u << blockLog) throw new FileSystemCorruptException($"ext superblock: {bpg} blocks per group is invalid");
        if (ipg == 0 || ipg > 8u << blockLog) throw new FileSystemCorruptException($"ext superblock: {ipg} inodes per group is invalid");
        if (firstData >= blocks) throw new FileSystemCorruptException($"ext superblock: first data block {firstData} lies beyond the {blocks} blocks");
        long groups = (blocks - firstData + bpg - 1) / bpg;
        if ((long)inodes > groups * ipg) throw new FileSystemCorruptException($"ext superblock: {inodes} inodes do not fit {groups} groups of {ipg}");
        int descSize = is64 ? U16(sb, 0xFE) : 32;
        if (descSize < 32 || descSize > 1024 || (descSize & (descSize - 1)) != 0) throw new FileSystemCorruptException($"ext superblock: group descriptor size {descSize} is invalid");
        bool csum = (roCompat & ExtRoCompat.MetadataCsum) != 0;
        uint seed = (incompat & ExtIncompat.CsumSeed) != 0 ? U32(sb, 0x270) : ExtChecksum.Crc32c(~0u, sb.Slice(0x68, 16));
        bool sbValid = !csum || ExtChecksum.Crc32c(~0u, sb[..0x3FC]) == U32(sb, 0x3FC);
        return new ExtSuperblock
        {
            BlockCount = blocks, InodeCount = inodes, FirstDataBlock = firstData, BlockLog = blockLog, BlocksPerGroup = bpg,
            InodesPerGroup = ipg, InodeSize = inodeSize, FirstMetaBg = U32(sb, 0x104), DescriptorSize = descSize,
            Compat = U32(sb, 0x5C), Incompat = incompat, RoCompat = roCompat, Label = Text(sb.Slice(0x78, 16)),
            ChecksumSeed = seed, SuperblockChecksumValid = sbValid, State = U16(sb, 0x3A),
        };
    }

    /// <summary>Byte offset of block <paramref name="block"/>, checked against the file system's size.</summary>
    public long BlockOffset(ulong block, string what)
    {
        if (block >= (ulong)BlockCount) throw new FileSystemCorruptException($"{what}: block {block} lies beyond the {BlockCount} blocks of the file system");
        return (long)block << BlockLog;
    }

    /// <summary>Whether group <paramref name="g"/> holds a superblock backup (sparse_super: 0, 1 and powers of 3, 5, 7).</summary>
    public bool GroupHasSuperblock(uint g)
    {
        if ((RoCompat & ExtRoCompat.SparseSuper) == 0 || g <= 1) return true;
        return IsPower(g, 3) || IsPower(g, 5) || IsPower(g, 7);
    }

    private static bool IsPower(uint n, uint b)
    {
        ulong p = b;
        while (p < n) p *= b;
        return p == n;
    }

    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);

    private static string Text(ReadOnlySpan<byte> raw)
    {
        int nul = raw.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? raw : raw[..nul]);
    }
}
