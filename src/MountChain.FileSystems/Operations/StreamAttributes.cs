using System.Runtime.InteropServices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Writes an NTFS alternate data stream of an extracted file as the extended attribute
/// "user.STREAM" of that file: the convention of ntfs-3g's default streams_interface=xattr, so
/// `getfattr -n user.STREAM FILE` reads it as it would on an ntfs-3g mount, and a real file
/// named "a:b" never collides with stream b of a. Linux only; a value larger than the target
/// file system allows (ext4: about one block) is reported, not written elsewhere.
/// </summary>
internal static partial class StreamAttributes
{
    /// <summary>Largest value we write in one call (the Linux limit for one attribute).</summary>
    private const int MaxValue = 64 * 1024;

    /// <summary>Sets user.STREAM on <paramref name="path"/>; returns null or why it could not.</summary>
    public static string? Write(IFileSystem fs, FsEntry stream, string path)
    {
        if (!OperatingSystem.IsLinux()) return "streams are written as extended attributes on Linux only";
        if (stream.Size > MaxValue) return $"{stream.Size} bytes is more than an extended attribute holds ({MaxValue})";
        var value = new byte[stream.Size];
        int done = 0;
        while (done < value.Length)
        {
            int n = fs.Read(stream, value.AsSpan(done), done);
            if (n <= 0) throw new FileSystemCorruptException($"{stream.Path}: stream data ends at {done} before its size {stream.Size}");
            done += n;
        }
        if (lsetxattr(path, "user." + stream.StreamName, value, (nuint)value.Length, 0) == 0) return null;
        return Marshal.GetLastPInvokeErrorMessage();
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lsetxattr(string path, string name, byte[] value, nuint size, int flags);
}
