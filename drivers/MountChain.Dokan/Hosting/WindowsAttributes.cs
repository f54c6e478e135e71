using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>Windows view of a <see cref="FileNode"/>: FILE_ATTRIBUTE_* flags (winnt.h), FILETIME, split 64-bit numbers.</summary>
public static class WindowsAttributes
{
    public const uint ReadOnly = 0x1;
    public const uint Directory = 0x10;
    public const uint Normal = 0x80;
    public const uint SparseFile = 0x200;
    /// <summary>Flags kept from a file system's own attributes (hidden, system, archive, temporary, not-indexed, read-only); the rest (reparse point, compressed, encrypted...) describe on-disk storage Dokan does not serve.</summary>
    private const uint KeptFromDisk = 0x1 | 0x2 | 0x4 | 0x20 | 0x100 | 0x2000;

    public static uint Of(FileNode node)
    {
        uint attributes = (node.WindowsAttributes ?? 0) & KeptFromDisk;
        if (node.IsDirectory) attributes |= Directory;
        if (!node.Writable && !node.IsDirectory) attributes |= ReadOnly;
        // Holes exist: tools that copy sparse files can skip them.
        if (!node.IsDirectory && node.AllocatedBytes < node.Size) attributes |= SparseFile;
        return attributes == 0 ? Normal : attributes;
    }

    /// <summary>FILETIME: 100 ns intervals since 1601-01-01 UTC.</summary>
    public static long FileTime(FileNode node) => node.Modified.ToFileTime();

    public static long CreationTime(FileNode node) => (node.Created ?? node.Modified).ToFileTime();
    public static long AccessTime(FileNode node) => (node.Accessed ?? node.Modified).ToFileTime();

    /// <summary>NumberOfLinks: the on-disk count for files, 1 for directories (Windows counts no "." links).</summary>
    public static uint Links(FileNode node) => node.IsDirectory ? 1u : Math.Max(1u, node.LinkCount ?? 1u);

    public static uint High(long value) => (uint)((ulong)value >> 32);
    public static uint Low(long value) => (uint)((ulong)value & 0xFFFFFFFF);
}
