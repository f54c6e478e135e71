using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>One parsed ext2/3/4 inode (kernel struct ext4_inode); the raw bytes are kept for i_block and in-inode xattrs.</summary>
internal sealed class ExtInode
{
    public const uint FlagIndex = 0x1000;          // htree directory
    public const uint FlagHugeFile = 0x40000;      // i_blocks counts file-system blocks
    public const uint FlagExtents = 0x80000;
    public const uint FlagEaInode = 0x200000;
    public const uint FlagInlineData = 0x10000000;
    public const int BlockArrayOffset = 0x28;
    public const int BlockArraySize = 60;

    public required uint Number { get; init; }
    public required uint Mode { get; init; }
    public required long Size { get; init; }
    public required uint Uid { get; init; }
    public required uint Gid { get; init; }
    public required uint LinkCount { get; init; }
    public required uint Flags { get; init; }
    public required uint Generation { get; init; }
    public required ulong FileAcl { get; init; }
    public required ulong BlockCount512 { get; init; }
    public required DateTimeOffset AccessTime { get; init; }
    public required DateTimeOffset ChangeTime { get; init; }
    public required DateTimeOffset ModifiedTime { get; init; }
    public required DateTimeOffset? CreationTime { get; init; }
    /// <summary>128 + i_extra_isize: where in-inode extended attributes begin.</summary>
    public required int ExtraEnd { get; init; }
    public required byte[] Raw { get; init; }

    /// <summary>The file's block map (extents or indirect runs), set once on first use.</summary>
    public ExtRun[]? CachedRuns;

    public uint Type => Mode & 0xF000;
    public bool IsDirectory => Type == 0x4000;
    public bool IsRegular => Type == 0x8000;
    public bool IsSymlink => Type == 0xA000;
    public bool HasExtents => (Flags & FlagExtents) != 0;
    public bool HasInlineData => (Flags & FlagInlineData) != 0;
    public ReadOnlySpan<byte> BlockArray => Raw.AsSpan(BlockArrayOffset, BlockArraySize);

    public FsEntryType EntryType => Type switch
    {
        0x4000 => FsEntryType.Directory,
        0x8000 => FsEntryType.File,
        0xA000 => FsEntryType.Symlink,
        _ => FsEntryType.Other,
    };

    /// <summary>Parses <paramref name="raw"/> (s_inode_size bytes) and checks its metadata_csum when the file system has one.</summary>
    public static ExtInode Parse(byte[] raw, uint number, ExtSuperblock sb, ExtChecksumPolicy checksums)
    {
        var b = raw.AsSpan();
        int extra = raw.Length > 128 ? U16(b, 0x80) : 0;
        if (raw.Length > 128 && (128 + extra > raw.Length || (extra & 3) != 0))
            throw new FileSystemCorruptException($"ext inode {number}: i_extra_isize {extra} does not fit the {raw.Length}-byte inode");
        if (sb.MetadataCsum) VerifyChecksum(b, number, extra, sb, checksums);
        uint flags = U32(b, 0x20);
        ulong blocks = U32(b, 0x1C) | (sb.HugeFile ? (ulong)U16(b, 0x74) << 32 : 0);
        if (sb.HugeFile && (flags & FlagHugeFile) != 0) blocks <<= sb.BlockLog - 9;
        long size = (long)(U32(b, 0x4) | (ulong)U32(b, 0x6C) << 32);
        if (size < 0) throw new FileSystemCorruptException($"ext inode {number}: size {(ulong)size} is absurd");
        // Logical block numbers are 32-bit (extent trees and block maps alike): no file is larger.
        // Without this a hostile size (2^47) makes files-hash read "holes" for days.
        if (size > (1L << 32) << sb.BlockLog && (U16(b, 0x0) & 0xF000) != 0x4000) // directories have their own bound (ExtDirectoryReader)
            throw new FileSystemCorruptException($"ext inode {number}: size {size} exceeds the largest ext file ({(1L << 32) << sb.BlockLog} bytes with {sb.BlockSize}-byte blocks)");
        return new ExtInode
        {
            Number = number,
            Mode = U16(b, 0x0),
            Size = size,
            Uid = U16(b, 0x2) | (uint)U16(b, 0x78) << 16,
            Gid = U16(b, 0x18) | (uint)U16(b, 0x7A) << 16,
            LinkCount = U16(b, 0x1A),
            Flags = flags,
            Generation = U32(b, 0x64),
            FileAcl = U32(b, 0x68) | (ulong)U16(b, 0x76) << 32,
            BlockCount512 = blocks,
            AccessTime = Time(b, 0x08, extra >= 0x10 ? 0x8C : -1),
            ChangeTime = Time(b, 0x0C, extra >= 0x08 ? 0x84 : -1),
            ModifiedTime = Time(b, 0x10, extra >= 0x0C ? 0x88 : -1),
            CreationTime = extra >= 0x18 ? Time(b, 0x90, 0x94) : null,
            ExtraEnd = raw.Length > 128 ? 128 + extra : 128,
            Raw = raw,
        };
    }

    /// <summary>Seconds (signed 32 bits, plus two epoch bits from the extra field) and nanoseconds (kernel ext4_decode_extra_time).</summary>
    private static DateTimeOffset Time(ReadOnlySpan<byte> b, int secondsOffset, int extraOffset)
    {
        long seconds = (int)U32(b, secondsOffset);
        long nanos = 0;
        if (extraOffset >= 0)
        {
            uint extra = U32(b, extraOffset);
            seconds += (long)(extra & 3) << 32;
            nanos = Math.Min(extra >> 2, 999_999_999u);
        }
        return DateTimeOffset.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond + nanos / 100);
    }

    private static void VerifyChecksum(ReadOnlySpan<byte> b, uint number, int extra, ExtSuperblock sb, ExtChecksumPolicy checksums)
    {
        bool hasHi = b.Length > 128 && extra >= 4;
        uint crc = ExtChecksum.InodeSeed(sb.ChecksumSeed, number, U32(b, 0x64));
        crc = ExtChecksum.Crc32c(crc, b[..0x7C]);
        crc = ExtChecksum.Crc32c(crc, [0, 0]);
        crc = ExtChecksum.Crc32c(crc, b[0x7E..0x80]);
        if (b.Length > 128)
        {
            crc = ExtChecksum.Crc32c(crc, b[0x80..0x82]);
            crc = hasHi ? ExtChecksum.Crc32c(crc, [0, 0]) : ExtChecksum.Crc32c(crc, b[0x82..0x84]);
            crc = ExtChecksum.Crc32c(crc, b[0x84..]);
        }
        uint stored = U16(b, 0x7C) | (hasHi ? (uint)U16(b, 0x82) << 16 : 0);
        if ((hasHi ? crc : crc & 0xFFFF) != stored) checksums.Mismatch($"ext inode {number}");
    }

    private static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
    private static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
}

/// <summary>A run of a file's blocks: file blocks [FileBlock, FileBlock+Count) at device blocks [Physical, ...); Unwritten reads as zeros.</summary>
internal readonly record struct ExtRun(ulong FileBlock, ulong Physical, uint Count, bool Unwritten)
{
    public ulong FileBlockEnd => FileBlock + Count;
}
