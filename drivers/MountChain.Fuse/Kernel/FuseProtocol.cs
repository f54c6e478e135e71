using System.Runtime.InteropServices;

namespace MountChain.Fuse.Kernel;

// The FUSE kernel protocol (include/uapi/linux/fuse.h, protocol 7.x): what travels over /dev/fuse.
// Every request is a fuse_in_header followed by the opcode's argument struct; every reply a
// fuse_out_header followed by the opcode's result. All fields little-endian host order.

/// <summary>FUSE opcodes we serve or must recognise (enum fuse_opcode).</summary>
internal enum FuseOpcode : uint
{
    Lookup = 1, Forget = 2, GetAttr = 3, SetAttr = 4, ReadLink = 5, Symlink = 6, Mknod = 8, Mkdir = 9,
    Unlink = 10, Rmdir = 11, Rename = 12, Link = 13, Open = 14, Read = 15, Write = 16, StatFs = 17,
    Release = 18, Fsync = 20, SetXattr = 21, GetXattr = 22, ListXattr = 23, RemoveXattr = 24, Flush = 25,
    Init = 26, OpenDir = 27, ReadDir = 28, ReleaseDir = 29, FsyncDir = 30, Access = 34, Create = 35,
    Interrupt = 36, Destroy = 38, BatchForget = 42, Fallocate = 43, ReadDirPlus = 44, Rename2 = 45,
    Lseek = 46, CopyFileRange = 47, SyncFs = 50, TmpFile = 51,
}

/// <summary>Protocol constants: versions, INIT capability bits (fuse_init_in.flags), FOPEN_* reply flags.</summary>
internal static class FuseConstants
{
    public const uint KernelVersion = 7;
    /// <summary>The minor version whose struct layouts this file follows (fuse_init_out is 64 bytes since 7.23).</summary>
    public const uint KernelMinorVersion = 38;
    public const ulong RootNodeId = 1;
    /// <summary>The kernel refuses reads from /dev/fuse into buffers smaller than this (FUSE_MIN_READ_BUFFER).</summary>
    public const int MinReadBuffer = 8192;

    public const uint AsyncRead = 1u << 0;
    public const uint BigWrites = 1u << 5;
    public const uint AsyncDio = 1u << 15;
    public const uint ParallelDirops = 1u << 18;
    public const uint MaxPages = 1u << 22;
    public const uint InitExt = 1u << 30;
    /// <summary>flags2 bit (bit 41 of the 64-bit flags): requests may travel over io_uring (FUSE_OVER_IO_URING).</summary>
    public const uint OverIoUringFlags2 = 1u << (41 - 32);

    public const uint OpenDirectIo = 1u << 0;           // FOPEN_DIRECT_IO
    public const uint OpenKeepCache = 1u << 1;          // FOPEN_KEEP_CACHE
    public const uint OpenParallelDirectWrites = 1u << 6; // FOPEN_PARALLEL_DIRECT_WRITES

    /// <summary>FUSE_DEV_IOC_CLONE = _IOR(229, 0, uint32_t): attach another descriptor to the same connection.</summary>
    public const uint DevIocClone = 0x8004E500;

    /// <summary>d_type values of fuse_dirent.type (DT_DIR, DT_REG, DT_LNK, DT_UNKNOWN).</summary>
    public const uint DirentDirectory = 4, DirentRegular = 8, DirentSymlink = 10, DirentUnknown = 0;

    /// <summary>fuse_setattr_in.valid bits we look at (FATTR_SIZE, FATTR_FH).</summary>
    public const uint SetAttrSize = 1u << 3;
    public const uint SetAttrFileHandle = 1u << 6;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseInHeader
{
    public uint Length;
    public FuseOpcode Opcode;
    public ulong Unique;
    public ulong NodeId;
    public uint Uid, Gid, Pid;
    public ushort TotalExtensionLength;
    public ushort Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseOutHeader
{
    public uint Length;
    public int Error;
    public ulong Unique;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseInitIn
{
    public uint Major, Minor, MaxReadahead, Flags, Flags2;
}

[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct FuseInitOut
{
    public uint Major, Minor, MaxReadahead, Flags;
    public ushort MaxBackground, CongestionThreshold;
    public uint MaxWrite, TimeGranularity;
    public ushort MaxPages, MapAlignment;
    public uint Flags2;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseAttr
{
    public ulong Ino, Size, Blocks, Atime, Mtime, Ctime;
    public uint AtimeNsec, MtimeNsec, CtimeNsec, Mode, Nlink, Uid, Gid, Rdev, BlockSize, Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseEntryOut
{
    public ulong NodeId, Generation, EntryValid, AttrValid;
    public uint EntryValidNsec, AttrValidNsec;
    public FuseAttr Attr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseAttrOut
{
    public ulong AttrValid;
    public uint AttrValidNsec, Dummy;
    public FuseAttr Attr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseGetAttrIn
{
    public uint Flags, Dummy;
    public ulong FileHandle;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseSetAttrIn
{
    public uint Valid, Padding;
    public ulong FileHandle, Size;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenIn
{
    public uint Flags, OpenFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenOut
{
    public ulong FileHandle;
    public uint OpenFlags, Padding;
}

/// <summary>fuse_read_in and fuse_write_in share this layout (the write data follows it).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseIoIn
{
    public ulong FileHandle, Offset;
    public uint Size, IoFlags;
    public ulong LockOwner;
    public uint Flags, Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseWriteOut
{
    public uint Size, Padding;
}

/// <summary>The leading file handle of fuse_release_in, fuse_flush_in and fuse_fsync_in.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseHandleIn
{
    public ulong FileHandle;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetIn
{
    public ulong Count;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseForgetOne
{
    public ulong NodeId, Count;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseBatchForgetIn
{
    public uint Count, Dummy;
}

[StructLayout(LayoutKind.Sequential, Size = 80)]
internal struct FuseStatFsOut
{
    public ulong Blocks, FreeBlocks, AvailableBlocks, Files, FreeFiles;
    public uint BlockSize, NameLength, FragmentSize, Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseDirent
{
    public ulong Ino, Offset;
    public uint NameLength, Type;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseFallocateIn
{
    public ulong FileHandle, Offset, Length;
    public uint Mode, Padding;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FuseLseekIn
{
    public ulong FileHandle, Offset;
    public uint Whence, Padding;
}
