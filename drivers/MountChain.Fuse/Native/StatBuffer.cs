using System.Runtime.InteropServices;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Native;

/// <summary>
/// Fills a C <c>struct stat</c> / <c>struct statvfs</c>. The stat layout differs per architecture:
/// x86_64 (arch/x86/include/uapi/asm/stat.h: st_nlink is 64-bit and precedes st_mode, 144 bytes)
/// and arm64 (asm-generic/stat.h: st_mode then a 32-bit st_nlink, 128 bytes). statvfs is the same
/// on both LP64 targets (glibc bits/statvfs.h, 112 bytes).
/// </summary>
internal static unsafe class StatBuffer
{
    /// <summary>WideFields: st_nlink and st_blksize are 64-bit (x86_64) rather than 32-bit (arm64).</summary>
    private readonly record struct StatLayout(int Size, int Ino, int Nlink, bool WideFields, int Mode, int Uid, int Gid,
        int FileSize, int BlkSize, int Blocks, int Atime, int Mtime, int Ctime);

    private static readonly StatLayout X64 = new(144, 8, 16, true, 24, 28, 32, 48, 56, 64, 72, 88, 104);
    private static readonly StatLayout Arm64 = new(128, 8, 20, false, 16, 24, 28, 48, 56, 64, 72, 88, 104);
    private static readonly StatLayout Layout =
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? Arm64 : X64;

    // struct statvfs field offsets.
    private const int VfsBsize = 0, VfsFrsize = 8, VfsBlocks = 16, VfsBfree = 24, VfsBavail = 32, VfsFiles = 40,
        VfsFfree = 48, VfsFavail = 56, VfsFlag = 72, VfsNamemax = 80, VfsSize = 112;
    private const ulong StRdonly = 1; // ST_RDONLY
    private const ulong NameMax = 255;

    /// <summary>The preferred I/O size st_blksize reports: large, so cp/dd use big requests.</summary>
    public const int PreferredIoSize = 1 << 20;

    public static void WriteStat(byte* st, FileNode node, uint uid, uint gid)
    {
        var l = Layout;
        new Span<byte>(st, l.Size).Clear();
        var (owner, group) = UnixAttributes.Owner(node, uid, gid);
        *(ulong*)(st + l.Ino) = (ulong)node.Id;
        if (l.WideFields) *(ulong*)(st + l.Nlink) = UnixAttributes.LinkCount(node);
        else *(uint*)(st + l.Nlink) = UnixAttributes.LinkCount(node);
        *(uint*)(st + l.Mode) = UnixAttributes.Mode(node);
        *(uint*)(st + l.Uid) = owner;
        *(uint*)(st + l.Gid) = group;
        *(long*)(st + l.FileSize) = node.Size;
        if (l.WideFields) *(long*)(st + l.BlkSize) = PreferredIoSize;
        else *(int*)(st + l.BlkSize) = PreferredIoSize;
        *(long*)(st + l.Blocks) = UnixAttributes.Blocks(node);
        WriteTime(st + l.Atime, node.Accessed ?? node.Modified);
        WriteTime(st + l.Mtime, node.Modified);
        WriteTime(st + l.Ctime, node.Changed ?? node.Modified);
    }

    /// <summary>struct timespec: seconds since the epoch, then nanoseconds (both 64-bit on LP64).</summary>
    private static void WriteTime(byte* at, DateTimeOffset time)
    {
        long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        *(long*)at = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest) - (rest < 0 ? 1 : 0);
        *(long*)(at + 8) = (rest < 0 ? rest + TimeSpan.TicksPerSecond : rest) * 100;
    }

    public static void WriteStatVfs(byte* buf, VolumeInfo volume, bool readOnly)
    {
        new Span<byte>(buf, VfsSize).Clear();
        ulong bsize = (ulong)volume.BlockSize;
        *(ulong*)(buf + VfsBsize) = bsize;
        *(ulong*)(buf + VfsFrsize) = bsize;
        *(ulong*)(buf + VfsBlocks) = (ulong)volume.TotalBytes / bsize;
        *(ulong*)(buf + VfsBfree) = (ulong)volume.FreeBytes / bsize;
        *(ulong*)(buf + VfsBavail) = (ulong)volume.FreeBytes / bsize;
        *(ulong*)(buf + VfsFiles) = (ulong)volume.FileCount;
        *(ulong*)(buf + VfsFfree) = 0;
        *(ulong*)(buf + VfsFavail) = 0;
        *(ulong*)(buf + VfsFlag) = readOnly ? StRdonly : 0;
        *(ulong*)(buf + VfsNamemax) = NameMax;
    }
}
