using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>What `ls --xattrs` shows of an entry: its extended attributes, or none when the file system has no such thing.</summary>
internal static class ExtendedAttributes
{
    public static IReadOnlyList<(string Name, byte[] Value)> Of(IFileSystem fs, FsEntry entry) =>
        entry.StreamName != null ? [] : fs.GetExtendedAttributes(entry) ?? [];
}
