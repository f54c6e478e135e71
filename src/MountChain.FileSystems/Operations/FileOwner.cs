using System.Runtime.InteropServices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Gives an extracted file the owner and group the file system records (uid/gid), as tar does
/// when run as root. Without root, or on Windows, or when the file system has no owners, nothing
/// happens. Symbolic links themselves are changed (lchown), never their targets.
/// </summary>
internal static partial class FileOwner
{
    private static readonly bool CanChown = !OperatingSystem.IsWindows() && geteuid() == 0;

    public static void Apply(string path, FsEntry entry)
    {
        if (!CanChown || entry.Uid is not { } uid || entry.Gid is not { } gid) return;
        lchown(path, uid, gid); // a failure (e.g. a file system without owners) leaves the extracting user's
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lchown(string path, uint owner, uint group);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
