using System.Runtime.InteropServices;

namespace MountChain.Fuse.Kernel;

/// <summary>The libc calls the /dev/fuse transport makes: descriptors, mount(2), raw read/write, mmap and writev.</summary>
internal static unsafe partial class KernelCalls
{
    private const string Library = "libc";

    public const int ReadWrite = 2;         // O_RDWR
    public const int CloseOnExec = 0x80000; // O_CLOEXEC

    // mount(2) flags (sys/mount.h).
    public const ulong MountReadOnly = 1;   // MS_RDONLY
    public const ulong MountNoSuid = 2;     // MS_NOSUID
    public const ulong MountNoDev = 4;      // MS_NODEV

    // errno values the request loop tells apart.
    public const int ENOENT = 2, EINTR = 4, EAGAIN = 11, EFAULT = 14, ENODEV = 19;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, uint* argument);

    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string source, string target, string fileSystemType, ulong flags, string data);

    // Gathering a READ reply from mapped files (sys/mman.h, sys/uio.h).
    public const int ProtRead = 1, MapShared = 1;
    public static readonly nint MapFailed = -1;

    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint MemoryMap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Library, EntryPoint = "munmap")]
    public static partial int MemoryUnmap(nint address, nuint length);

    [LibraryImport(Library, EntryPoint = "writev", SetLastError = true)]
    public static partial nint WriteVector(int fd, nuint* iovec, int count);

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
