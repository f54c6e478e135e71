using System.Runtime.InteropServices;

namespace MountChain.Fuse.Native;

/// <summary>The few libc calls the FUSE host needs (unmount, serving user, kill, libfuse log formatting).</summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    /// <summary>umount2 flag MNT_DETACH (lazy unmount, sys/mount.h).</summary>
    public const int MntDetach = 2;

    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUid();

    [LibraryImport(Library, EntryPoint = "getegid")]
    public static partial uint GetEffectiveGid();

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>Formats a libfuse log message; <paramref name="args"/> is the va_list libfuse passed us, forwarded untouched.</summary>
    [LibraryImport(Library, EntryPoint = "vsnprintf")]
    public static partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);
}
