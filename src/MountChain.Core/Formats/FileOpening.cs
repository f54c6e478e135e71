using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats;

/// <summary>Opening and reading link files: read-only at the OS level (design.md rule 3).</summary>
internal static class FileOpening
{
    /// <summary>Opens a link file read-only; others may keep reading and writing it. <paramref name="knownFile"/>: the caller just found it to be a regular file.</summary>
    public static SafeFileHandle OpenReadOnly(string path, bool knownFile = false)
    {
        if (!knownFile && Directory.Exists(path))
            throw new CorruptMetadataException(path, "is a directory, not a VMDK file");
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return handle;
    }

    /// <summary>Reads exactly buffer.Length bytes or reports the file as truncated.</summary>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path)
    {
        while (!buffer.IsEmpty)
        {
            int n = RandomAccess.Read(handle, buffer, offset);
            if (n <= 0)
                throw new CorruptMetadataException(path, $"unexpected end of file at byte {offset} (file truncated?)");
            buffer = buffer[n..];
            offset += n;
        }
    }
}
