using System.Runtime.InteropServices;

namespace MountChain.Fuse.Native;

// Layouts of libfuse 3.14 (/usr/include/fuse3/fuse.h, fuse_common.h, fuse_opt.h) for LP64 Linux.
// Checked against offsetof/sizeof from a C program built with FUSE_USE_VERSION 314:
// fuse_operations 336, fuse_file_info 40 (fh @16), fuse_conn_info 128 (max_read @12, want @24),
// fuse_config 128 (attr_timeout @40, direct_io @72, nullpath_ok @104), fuse_context 40 (private_data @24).

/// <summary>struct fuse_args (fuse_opt.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseArgs
{
    public int Argc;
    public byte** Argv;
    /// <summary>Non-zero when libfuse allocated Argv and fuse_opt_free_args must free it.</summary>
    public int Allocated;
}

/// <summary>struct fuse_file_info (fuse_common.h): flags, one 32-bit bitfield word, padding2, fh, lock_owner, poll_events.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct FuseFileInfo
{
    public const int Size = 40;
    // Bit positions in the first bitfield word, in declaration order.
    public const uint DirectIoBit = 1u << 1;
    public const uint KeepCacheBit = 1u << 2;
    public const uint NonSeekableBit = 1u << 4;

    [FieldOffset(0)] public int Flags;
    [FieldOffset(4)] public uint Bits;
    [FieldOffset(16)] public ulong Handle;
    [FieldOffset(24)] public ulong LockOwner;
    [FieldOffset(32)] public uint PollEvents;
}

/// <summary>struct fuse_conn_info (fuse_common.h): ten unsigned fields then reserved[22].</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConnInfo
{
    [FieldOffset(0)] public uint ProtoMajor;
    [FieldOffset(4)] public uint ProtoMinor;
    [FieldOffset(8)] public uint MaxWrite;
    [FieldOffset(12)] public uint MaxRead;
    [FieldOffset(16)] public uint MaxReadahead;
    [FieldOffset(20)] public uint Capable;
    [FieldOffset(24)] public uint Want;
    [FieldOffset(28)] public uint MaxBackground;
    [FieldOffset(32)] public uint CongestionThreshold;
    [FieldOffset(36)] public uint TimeGran;
}

/// <summary>struct fuse_config (fuse.h), the high-level options init() may change.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConfig
{
    [FieldOffset(0)] public int SetGid;
    [FieldOffset(4)] public uint Gid;
    [FieldOffset(8)] public int SetUid;
    [FieldOffset(12)] public uint Uid;
    [FieldOffset(16)] public int SetMode;
    [FieldOffset(20)] public uint Umask;
    [FieldOffset(24)] public double EntryTimeout;
    [FieldOffset(32)] public double NegativeTimeout;
    [FieldOffset(40)] public double AttrTimeout;
    [FieldOffset(48)] public int Intr;
    [FieldOffset(52)] public int IntrSignal;
    [FieldOffset(56)] public int Remember;
    [FieldOffset(60)] public int HardRemove;
    [FieldOffset(64)] public int UseIno;
    [FieldOffset(68)] public int ReaddirIno;
    [FieldOffset(72)] public int DirectIo;
    [FieldOffset(76)] public int KernelCache;
    [FieldOffset(80)] public int AutoCache;
    [FieldOffset(84)] public int NoRofdFlush;
    [FieldOffset(88)] public int AcAttrTimeoutSet;
    [FieldOffset(96)] public double AcAttrTimeout;
    [FieldOffset(104)] public int NullpathOk;
    [FieldOffset(108)] public int ShowHelp;
    [FieldOffset(112)] public nint Modules;
    [FieldOffset(120)] public int Debug;
}

/// <summary>struct fuse_context (fuse.h).</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct FuseContext
{
    [FieldOffset(0)] public nint Fuse;
    [FieldOffset(8)] public uint Uid;
    [FieldOffset(12)] public uint Gid;
    [FieldOffset(16)] public int Pid;
    [FieldOffset(24)] public nint PrivateData;
    [FieldOffset(32)] public uint Umask;
}

/// <summary>
/// struct fuse_operations (fuse.h, 3.14): 42 function pointers in this order. A null entry makes
/// libfuse answer ENOSYS. We fill the ones <see cref="FuseCallbacks"/> implements.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOperations
{
    public const int Count = 42;
    public nint Getattr, Readlink, Mknod, Mkdir, Unlink, Rmdir, Symlink, Rename, Link, Chmod, Chown, Truncate,
        Open, Read, Write, Statfs, Flush, Release, Fsync, Setxattr, Getxattr, Listxattr, Removexattr,
        Opendir, Readdir, Releasedir, Fsyncdir, Init, Destroy, Access, Create, Lock, Utimens, Bmap, Ioctl,
        Poll, WriteBuf, ReadBuf, Flock, Fallocate, CopyFileRange, Lseek;
}
