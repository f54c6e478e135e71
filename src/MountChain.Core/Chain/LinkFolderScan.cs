using MountChain.Core.Formats;

namespace MountChain.Core.Chain;

/// <summary>
/// Finds the links that name a given link as their parent (linked clones, other snapshots), by
/// reading only their descriptors: commit and unlink must not tear them (§1.6). Looked at: the
/// .vmdk files of the folders given, and the children mountchain recorded in the link's
/// <see cref="ChildRegistry"/> (which may be anywhere). Hints are resolved by the chain's own rule
/// (<see cref="ParentResolver.Candidates"/>, §1.7).
/// </summary>
internal static class LinkFolderScan
{
    /// <summary>Files in <paramref name="folders"/> (not recursive) or in the link's child registry whose parentFileNameHint resolves to <paramref name="linkPath"/>.</summary>
    public static IReadOnlyList<string> ChildrenOf(string linkPath, IEnumerable<string> folders, IEnumerable<string> exclude)
    {
        string target = PathInspection.Canonical(linkPath);
        var excluded = exclude.Select(PathInspection.Canonical).Append(target).ToHashSet();
        var children = new List<string>();
        var seen = new HashSet<string>();
        var files = folders.Select(Path.GetFullPath).Distinct().Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".vmdk", StringComparison.OrdinalIgnoreCase)))
            .Concat(ChildRegistry.Listed(linkPath));
        foreach (string file in files)
        {
            string canonical = PathInspection.Canonical(file);
            if (excluded.Contains(canonical) || !seen.Add(canonical)) continue;
            var descriptor = LinkOpener.TryReadDescriptor(file);
            if (descriptor?.ParentFileNameHint is not { } hint) continue;
            if (ParentResolver.Candidates(file, hint, ParentResolver.NoParentMap, []).Any(c => File.Exists(c) && PathInspection.Canonical(c) == target))
                children.Add(file);
        }
        return children;
    }
}
