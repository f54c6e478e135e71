using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// The primary superblock (xfs_dsb, xfs_format.h; "Superblocks" in XFS Algorithms &amp; Data
/// Structures) and the address arithmetic it defines. All fields are big-endian except sb_crc.
/// </summary>
internal sealed class XfsSuperblock
{
    public const uint Magic = 0x58465342; // "XFSB"

    // Field offsets in xfs_dsb.
    private const int OffMagic = 0, OffBlockSize = 4, OffDataBlocks = 8, OffRootIno = 56, OffAgBlocks = 84,
        OffAgCount = 88, OffVersion = 100, OffSectSize = 102, OffInodeSize = 104, OffInodesPerBlock = 106,
        OffName = 108, OffBlockLog = 120, OffInodeLog = 122, OffInopbLog = 123, OffAgBlkLog = 124,
        OffInProgress = 126, OffDirBlkLog = 192, OffFeatures2 = 200, OffIncompat = 216, OffCrc = 224;

    private const int VersionNumberMask = 0x000f, VersionDirV2Bit = 0x2000, VersionMoreBitsBit = 0x8000;
    private const uint Features2Ftype = 0x200;

    [Flags]
    public enum Incompat : uint
    {
        Ftype = 1, SparseInodes = 2, MetaUuid = 4, BigTime = 8, NeedsRepair = 16, NRext64 = 32,
        ExchangeRange = 64, ParentPointers = 128,
    }

    private const Incompat UnderstoodIncompat = Incompat.Ftype | Incompat.SparseInodes | Incompat.MetaUuid |
        Incompat.BigTime | Incompat.NeedsRepair | Incompat.NRext64 | Incompat.ExchangeRange | Incompat.ParentPointers;

    public int Version { get; private init; }
    public bool HasCrc => Version == 5;
    public int BlockSize { get; private init; }
    public int BlockLog { get; private init; }
    public long DataBlocks { get; private init; }
    public ulong RootIno { get; private init; }
    public uint AgBlocks { get; private init; }
    public uint AgCount { get; private init; }
    public int SectorSize { get; private init; }
    public int InodeSize { get; private init; }
    public int InodeLog { get; private init; }
    public int InopbLog { get; private init; }
    public int AgBlkLog { get; private init; }
    public int DirBlockSize { get; private init; }
    public bool HasFtype { get; private init; }
    public bool HasBigTime { get; private init; }
    public bool HasNRext64 { get; private init; }
    public string Label { get; private init; } = "";

    /// <summary>True when the sector looks like an XFS primary superblock (magic and a sane version/block size).</summary>
    public static bool Probe(ReadOnlySpan<byte> sector)
    {
        if (sector.Length < 128 || BinaryPrimitives.ReadUInt32BigEndian(sector) != Magic) return false;
        int version = BinaryPrimitives.ReadUInt16BigEndian(sector[OffVersion..]) & VersionNumberMask;
        uint blockSize = BinaryPrimitives.ReadUInt32BigEndian(sector[OffBlockSize..]);
        return (version == 4 || version == 5) && blockSize is >= 512 and <= 65536 && (blockSize & (blockSize - 1)) == 0;
    }

    /// <summary>Parses and validates the superblock sector; throws <see cref="FileSystemCorruptException"/> on any inconsistency.</summary>
    public static XfsSuperblock Parse(ReadOnlySpan<byte> b, long deviceLength)
    {
        if (b.Length < 512 || BinaryPrimitives.ReadUInt32BigEndian(b[OffMagic..]) != Magic)
            throw Corrupt("bad magic");
        int versionNum = BinaryPrimitives.ReadUInt16BigEndian(b[OffVersion..]);
        int version = versionNum & VersionNumberMask;
        if (version != 4 && version != 5) throw Corrupt($"unsupported version {version}");
        if (version == 4 && (versionNum & VersionDirV2Bit) == 0) throw Corrupt("v4 without version 2 directories is not supported");

        uint blockSize = BinaryPrimitives.ReadUInt32BigEndian(b[OffBlockSize..]);
        int blockLog = b[OffBlockLog];
        int sectSize = BinaryPrimitives.ReadUInt16BigEndian(b[OffSectSize..]);
        int inodeSize = BinaryPrimitives.ReadUInt16BigEndian(b[OffInodeSize..]);
        int inodeLog = b[OffInodeLog], inopbLog = b[OffInopbLog], agBlkLog = b[OffAgBlkLog];
        int inodesPerBlock = BinaryPrimitives.ReadUInt16BigEndian(b[OffInodesPerBlock..]);
        uint agBlocks = BinaryPrimitives.ReadUInt32BigEndian(b[OffAgBlocks..]);
        uint agCount = BinaryPrimitives.ReadUInt32BigEndian(b[OffAgCount..]);
        ulong dataBlocks = BinaryPrimitives.ReadUInt64BigEndian(b[OffDataBlocks..]);
        int dirBlkLog = b[OffDirBlkLog];

        if (blockLog is < 9 or > 16 || blockSize != 1u << blockLog) throw Corrupt($"block size {blockSize} / log {blockLog}");
        if (sectSize is < 512 or > 32768 || (sectSize & (sectSize - 1)) != 0 || sectSize > blockSize) throw Corrupt($"sector size {sectSize}");
        if (inodeLog is < 8 or > 11 || inodeSize != 1 << inodeLog || inodeSize > blockSize) throw Corrupt($"inode size {inodeSize}");
        if (inopbLog != blockLog - inodeLog || inodesPerBlock != 1 << inopbLog) throw Corrupt("inodes per block");
        if (agBlocks < 64 || agBlkLog > 31 || agBlkLog < 6 || (1UL << agBlkLog) < agBlocks || (1UL << (agBlkLog - 1)) >= agBlocks)
            throw Corrupt($"AG size {agBlocks} / log {agBlkLog}");
        if (agCount == 0 || agCount > 1_000_000) throw Corrupt($"AG count {agCount}");
        if (dataBlocks == 0 || dataBlocks > (ulong)agCount * agBlocks || dataBlocks <= (ulong)(agCount - 1) * agBlocks)
            throw Corrupt($"data block count {dataBlocks} does not match {agCount} AGs of {agBlocks} blocks");
        if (blockLog + dirBlkLog > 16) throw Corrupt($"directory block log {dirBlkLog}");
        if (b[OffInProgress] != 0) throw Corrupt("mkfs did not finish (sb_inprogress set)");

        bool hasFtype;
        Incompat incompat = 0;
        if (version == 5)
        {
            if (!XfsChecksum.IsValid(b[..sectSize], OffCrc)) throw Corrupt("CRC mismatch");
            incompat = (Incompat)BinaryPrimitives.ReadUInt32BigEndian(b[OffIncompat..]);
            if ((incompat & ~UnderstoodIncompat) != 0)
                throw Corrupt($"unsupported incompatible features 0x{(uint)(incompat & ~UnderstoodIncompat):x}");
            hasFtype = (incompat & Incompat.Ftype) != 0;
        }
        else
        {
            uint features2 = (versionNum & VersionMoreBitsBit) != 0 ? BinaryPrimitives.ReadUInt32BigEndian(b[OffFeatures2..]) : 0;
            hasFtype = (features2 & Features2Ftype) != 0;
        }

        long fsBytes = (long)dataBlocks << blockLog;
        if (fsBytes > deviceLength)
            throw new FileSystemCorruptException($"XFS superblock: file system of {fsBytes} bytes is larger than the {deviceLength}-byte device");

        ulong rootIno = BinaryPrimitives.ReadUInt64BigEndian(b[OffRootIno..]);
        ReadOnlySpan<byte> name = b.Slice(OffName, 12);
        int nul = name.IndexOf((byte)0);
        var sb = new XfsSuperblock
        {
            Version = version, BlockSize = (int)blockSize, BlockLog = blockLog, DataBlocks = (long)dataBlocks,
            RootIno = rootIno, AgBlocks = agBlocks, AgCount = agCount, SectorSize = sectSize, InodeSize = inodeSize,
            InodeLog = inodeLog, InopbLog = inopbLog, AgBlkLog = agBlkLog, DirBlockSize = (int)blockSize << dirBlkLog,
            HasFtype = hasFtype, HasBigTime = (incompat & Incompat.BigTime) != 0, HasNRext64 = (incompat & Incompat.NRext64) != 0,
            Label = Encoding.UTF8.GetString(nul < 0 ? name : name[..nul]),
        };
        if (!sb.IsValidInode(rootIno)) throw Corrupt($"root inode {rootIno} lies outside the file system");
        return sb;
    }

    private static FileSystemCorruptException Corrupt(string what) => new($"XFS superblock: {what}");

    /// <summary>Splits an absolute fs block number (AG number in the high bits, sb_agblklog low bits).</summary>
    public bool TryGetBlockAddress(ulong fsbno, ulong count, out long byteOffset)
    {
        ulong agno = fsbno >> AgBlkLog, agbno = fsbno & ((1UL << AgBlkLog) - 1);
        byteOffset = 0;
        if (agno >= AgCount || count > AgBlocks || agbno + count > AgBlocks) return false;
        ulong linear = agno * AgBlocks + agbno;
        if (linear + count > (ulong)DataBlocks) return false;
        byteOffset = (long)(linear << BlockLog);
        return true;
    }

    /// <summary>Byte offset of an absolute fs block, or a corruption naming <paramref name="owner"/>.</summary>
    public long BlockAddress(ulong fsbno, ulong count, string owner) =>
        TryGetBlockAddress(fsbno, count, out long offset) ? offset
            : throw new FileSystemCorruptException($"XFS {owner}: block range {fsbno}+{count} lies outside the file system");

    /// <summary>Inode number = AG number | AG block | index in block (sb_agblklog + sb_inopblog low bits).</summary>
    public bool IsValidInode(ulong ino) => TryGetInodeAddress(ino, out _);

    public bool TryGetInodeAddress(ulong ino, out long byteOffset)
    {
        int aginoBits = AgBlkLog + InopbLog;
        ulong agno = ino >> aginoBits;
        ulong agino = ino & ((1UL << aginoBits) - 1);
        ulong agbno = agino >> InopbLog;
        ulong index = agino & ((1UL << InopbLog) - 1);
        byteOffset = 0;
        if (agno >= AgCount || agbno >= AgBlocks || ino == 0) return false;
        ulong linear = agno * AgBlocks + agbno;
        if (linear >= (ulong)DataBlocks) return false;
        byteOffset = (long)(linear << BlockLog) + (long)(index << InodeLog);
        return true;
    }

    /// <summary>The 512-byte "disk address" v5 headers record for self-identification.</summary>
    public static ulong ToDaddr(long byteOffset) => (ulong)byteOffset >> 9;
}
