using System.Runtime.InteropServices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Gives an extracted file the extended attributes the file system records (as tar --xattrs
/// --acls does): user.* always, trusted.* and security.* when run as root, POSIX ACLs through
/// system.posix_acl_*. The link itself is changed (lsetxattr), never a symlink's target. A target
/// that refuses one (no xattr support, no permission) keeps the file without it: extraction goes on.
/// </summary>
internal static partial class ExtendedAttributeWriter
{
    public static void Apply(IFileSystem fs, string path, FsEntry entry)
    {
        if (OperatingSystem.IsWindows() || entry.StreamName != null) return;
        foreach (var (name, value) in fs.GetExtendedAttributes(entry) ?? [])
            lsetxattr(path, name, value, (nuint)value.Length, 0);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lsetxattr(string path, string name, byte[] value, nuint size, int flags);
}
