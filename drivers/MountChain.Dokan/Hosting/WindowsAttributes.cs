using MountChain.Fuse.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>Windows view of a <see cref="FileNode"/>: FILE_ATTRIBUTE_* flags (winnt.h), FILETIME, split 64-bit numbers.</summary>
public static class WindowsAttributes
{
    public const uint ReadOnly = 0x1;
    public const uint Directory = 0x10;
    public const uint Normal = 0x80;
    public const uint SparseFile = 0x200;

    public static uint Of(FileNode node)
    {
        uint attributes = 0;
        if (node.IsDirectory) attributes |= Directory;
        if (!node.Writable && !node.IsDirectory) attributes |= ReadOnly;
        // Holes exist: tools that copy sparse files can skip them.
        if (!node.IsDirectory && node.AllocatedBytes < node.Size) attributes |= SparseFile;
        return attributes == 0 ? Normal : attributes;
    }

    /// <summary>FILETIME: 100 ns intervals since 1601-01-01 UTC.</summary>
    public static long FileTime(FileNode node) => node.Modified.ToFileTime();

    public static uint High(long value) => (uint)((ulong)value >> 32);
    public static uint Low(long value) => (uint)((ulong)value & 0xFFFFFFFF);
}
