using System.Runtime.InteropServices;

namespace MountChain.Mounting.Lifecycle;

/// <summary>The few libc calls a mount server's life needs (session, standard streams, user, signals, thread priority).</summary>
internal static partial class LibC
{
    private const string Library = "libc";

    public const int ORdwr = 2;
    public const int SigTerm = 15;

    [LibraryImport(Library, EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUid();

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);

    [LibraryImport(Library, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport(Library, EntryPoint = "gettid")]
    public static partial int GetThreadId();

    /// <summary>setpriority(PRIO_PROCESS, tid, nice): on Linux a thread id names one thread.</summary>
    [LibraryImport(Library, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, int who, int nice);
}
