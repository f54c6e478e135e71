namespace MountChain.FileSystems.Common;

/// <summary>
/// Resolves a '/'-separated path one component at a time for readers without symbolic links (FAT,
/// exFAT): "." is skipped, ".." goes back up (never above the root), a file in the middle ends it.
/// </summary>
internal static class PathWalk
{
    /// <param name="child">The entry named by a component in a directory, or null.</param>
    public static FsEntry? Resolve(FsEntry root, string path, Func<FsEntry, string, FsEntry?> child)
    {
        var current = root;
        var stack = new List<FsEntry>();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..")
            {
                if (stack.Count > 0) stack.RemoveAt(stack.Count - 1);
                current = stack.Count > 0 ? stack[^1] : root;
                continue;
            }
            if (current.Type != FsEntryType.Directory) return null;
            var next = child(current, part);
            if (next == null) return null;
            current = next;
            stack.Add(current);
        }
        return current;
    }
}
