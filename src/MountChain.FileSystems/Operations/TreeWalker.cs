using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Depth-first walk of a directory tree (pre-order, in the file system's listing order). A
/// directory that appears again inside itself (a corrupt, looping tree) ends the walk with an error.
/// </summary>
public static class TreeWalker
{
    private const int MaxDepth = 4096;

    public static IEnumerable<FsEntry> Walk(IFileSystem fs, FsEntry directory, bool recursive)
    {
        var ancestors = new HashSet<ulong> { directory.Id };
        return WalkInner(fs, directory, recursive, ancestors, 0);
    }

    private static IEnumerable<FsEntry> WalkInner(IFileSystem fs, FsEntry directory, bool recursive, HashSet<ulong> ancestors, int depth)
    {
        if (depth > MaxDepth) throw new FileSystemCorruptException($"{directory.Path}: directory tree deeper than {MaxDepth} levels");
        foreach (var entry in fs.List(directory))
        {
            yield return entry;
            if (!recursive || entry.Type != FsEntryType.Directory || entry.StreamName != null) continue;
            if (!ancestors.Add(entry.Id))
                throw new FileSystemCorruptException($"{entry.Path}: directory contains itself (the tree loops)");
            foreach (var inner in WalkInner(fs, entry, true, ancestors, depth + 1)) yield return inner;
            ancestors.Remove(entry.Id);
        }
    }

    /// <summary>
    /// Looks a path up, or throws naming it. On NTFS, FAT and exFAT a Windows path with '\' is
    /// accepted too (tried after the path as given, since ntfs-3g can store '\' in a name).
    /// </summary>
    public static FsEntry Resolve(IFileSystem fs, string path) =>
        fs.Lookup(path)
        ?? (path.Contains('\\') && fs.Kind is "ntfs" or Fat.FatFileSystem.KindName or Exfat.ExfatFileSystem.KindName ? fs.Lookup(path.Replace('\\', '/')) : null)
        ?? throw new IOException($"{path}: no such file or directory");
}
