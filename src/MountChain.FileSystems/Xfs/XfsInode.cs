using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>Data/attribute fork layouts (xfs_dinode_fmt, xfs_format.h).</summary>
internal enum XfsForkFormat : byte { Device = 0, Local = 1, Extents = 2, Btree = 3 }

/// <summary>
/// A parsed on-disk inode (xfs_dinode; "On-disk Inode" in XFS Algorithms &amp; Data Structures):
/// the core fields plus a private copy of the data fork bytes. Immutable after parsing.
/// </summary>
internal sealed class XfsInode
{
    public const ushort Magic = 0x494e; // "IN"

    // Field offsets in xfs_dinode.
    private const int OffMagic = 0, OffMode = 2, OffVersion = 4, OffFormat = 5, OffOnlink = 6, OffUid = 8, OffGid = 12,
        OffNlink = 16, OffBigNextents = 24, OffAtime = 32, OffMtime = 40, OffCtime = 48, OffSize = 56, OffNblocks = 64,
        OffNextents = 76, OffForkOff = 82, OffFlags = 90, OffCrc = 100, OffFlags2 = 120, OffCrtime = 144, OffIno = 152;

    /// <summary>Core size: v1/v2 inodes end at di_next_unlinked, v3 adds the CRC/LSN/ino block.</summary>
    private const int CoreSizeV2 = 100, CoreSizeV3 = 176;

    private const ushort DiflagRealtime = 0x1;
    private const ulong Diflag2BigTime = 0x8, Diflag2NRext64 = 0x10;

    /// <summary>Offset of the Unix epoch from the bigtime epoch (the minimum signed 32-bit time), in seconds.</summary>
    private const long BigTimeEpochOffset = 1L << 31;

    public required ulong Number { get; init; }
    public required uint Mode { get; init; }
    public required XfsForkFormat Format { get; init; }
    public required uint Uid { get; init; }
    public required uint Gid { get; init; }
    public required uint LinkCount { get; init; }
    public required long Size { get; init; }
    public required ulong ExtentCount { get; init; }
    public required bool IsRealtime { get; init; }
    public required DateTimeOffset AccessTime { get; init; }
    public required DateTimeOffset ModifiedTime { get; init; }
    public required DateTimeOffset ChangeTime { get; init; }
    public DateTimeOffset? CreationTime { get; init; }
    /// <summary>The data fork bytes (literal area up to di_forkoff).</summary>
    public required byte[] DataFork { get; init; }

    public uint FileType => Mode & 0xF000;
    public bool IsDirectory => FileType == 0x4000;
    public bool IsRegular => FileType == 0x8000;
    public bool IsSymlink => FileType == 0xA000;

    /// <summary>Lazily built block map (extents/btree forks); set once under the inode's own lock.</summary>
    internal XfsExtent[]? CachedExtents;

    public FsEntryType EntryType => FileType switch
    {
        0x8000 => FsEntryType.File,
        0x4000 => FsEntryType.Directory,
        0xA000 => FsEntryType.Symlink,
        _ => FsEntryType.Other,
    };

    /// <summary>Parses and validates one inode; <paramref name="raw"/> is exactly sb_inodesize bytes.</summary>
    public static XfsInode Parse(ReadOnlySpan<byte> raw, ulong ino, XfsSuperblock sb)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(raw[OffMagic..]) != Magic) throw Corrupt(ino, "bad magic");
        int version = raw[OffVersion];
        if (sb.HasCrc ? version != 3 : version is not (1 or 2)) throw Corrupt(ino, $"version {version} on a v{sb.Version} file system");
        if (version == 3)
        {
            if (!XfsChecksum.IsValid(raw, OffCrc)) throw Corrupt(ino, "CRC mismatch");
            ulong recorded = BinaryPrimitives.ReadUInt64BigEndian(raw[OffIno..]);
            if (recorded != ino) throw Corrupt(ino, $"records inode number {recorded}");
        }

        uint mode = BinaryPrimitives.ReadUInt16BigEndian(raw[OffMode..]);
        if (mode == 0) throw Corrupt(ino, "is not in use (mode 0)");
        var format = (XfsForkFormat)raw[OffFormat];
        if (format > XfsForkFormat.Btree) throw Corrupt(ino, $"unknown data fork format {(int)format}");
        long size = (long)BinaryPrimitives.ReadUInt64BigEndian(raw[OffSize..]);
        if (size < 0) throw Corrupt(ino, "negative size");

        ulong flags2 = version == 3 ? BinaryPrimitives.ReadUInt64BigEndian(raw[OffFlags2..]) : 0;
        bool bigTime = (flags2 & Diflag2BigTime) != 0;
        if (bigTime && !sb.HasBigTime) throw Corrupt(ino, "bigtime flag without the superblock feature");
        bool nrext64 = (flags2 & Diflag2NRext64) != 0;
        if (nrext64 && !sb.HasNRext64) throw Corrupt(ino, "large extent counter flag without the superblock feature");
        ulong nextents = nrext64 ? BinaryPrimitives.ReadUInt64BigEndian(raw[OffBigNextents..]) : BinaryPrimitives.ReadUInt32BigEndian(raw[OffNextents..]);

        int coreSize = version == 3 ? CoreSizeV3 : CoreSizeV2;
        int literal = raw.Length - coreSize;
        int forkOff = raw[OffForkOff] * 8;
        if (forkOff > literal) throw Corrupt(ino, $"attribute fork offset {forkOff} beyond the {literal}-byte literal area");
        int dataForkSize = forkOff == 0 ? literal : forkOff;

        uint nlink = version == 1 ? BinaryPrimitives.ReadUInt16BigEndian(raw[OffOnlink..]) : BinaryPrimitives.ReadUInt32BigEndian(raw[OffNlink..]);
        return new XfsInode
        {
            Number = ino, Mode = mode, Format = format, Size = size, ExtentCount = nextents,
            Uid = BinaryPrimitives.ReadUInt32BigEndian(raw[OffUid..]),
            Gid = BinaryPrimitives.ReadUInt32BigEndian(raw[OffGid..]),
            LinkCount = nlink,
            IsRealtime = (BinaryPrimitives.ReadUInt16BigEndian(raw[OffFlags..]) & DiflagRealtime) != 0,
            AccessTime = Timestamp(raw[OffAtime..], bigTime),
            ModifiedTime = Timestamp(raw[OffMtime..], bigTime),
            ChangeTime = Timestamp(raw[OffCtime..], bigTime),
            CreationTime = version == 3 ? Timestamp(raw[OffCrtime..], bigTime) : null,
            DataFork = raw.Slice(coreSize, dataForkSize).ToArray(),
        };
    }

    /// <summary>xfs_timestamp: either (s32 seconds, u32 nanoseconds) or, with bigtime, u64 nanoseconds since 1901-12-13.</summary>
    private static DateTimeOffset Timestamp(ReadOnlySpan<byte> b, bool bigTime)
    {
        long seconds, nanos;
        if (bigTime)
        {
            ulong total = BinaryPrimitives.ReadUInt64BigEndian(b);
            seconds = (long)(total / 1_000_000_000UL) - BigTimeEpochOffset;
            nanos = (long)(total % 1_000_000_000UL);
        }
        else
        {
            seconds = BinaryPrimitives.ReadInt32BigEndian(b);
            nanos = Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b[4..]), 999_999_999u);
        }
        return DateTimeOffset.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond + nanos / 100);
    }

    private static FileSystemCorruptException Corrupt(ulong ino, string what) => new($"XFS inode {ino}: {what}");
}
