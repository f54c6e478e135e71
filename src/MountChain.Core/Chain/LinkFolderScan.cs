using MountChain.Core.Formats;

namespace MountChain.Core.Chain;

/// <summary>
/// Finds the links in a folder that name a given link as their parent (linked clones, other
/// snapshots), by reading only their descriptors: commit and unlink must not tear them (§1.6).
/// Hints are resolved by the chain's own rule (<see cref="ParentResolver.Candidates"/>, §1.7).
/// </summary>
public static class LinkFolderScan
{
    /// <summary>Files in <paramref name="folders"/> (not recursive) whose parentFileNameHint resolves to <paramref name="linkPath"/>.</summary>
    public static IReadOnlyList<string> ChildrenOf(string linkPath, IEnumerable<string> folders, IEnumerable<string> exclude)
    {
        string target = PathInspection.Canonical(linkPath);
        var excluded = exclude.Select(PathInspection.Canonical).Append(target).ToHashSet();
        var children = new List<string>();
        foreach (string folder in folders.Select(Path.GetFullPath).Distinct())
        {
            if (!Directory.Exists(folder)) continue;
            foreach (string file in Directory.EnumerateFiles(folder))
            {
                if (!file.EndsWith(".vmdk", StringComparison.OrdinalIgnoreCase)) continue;
                if (excluded.Contains(PathInspection.Canonical(file))) continue;
                var descriptor = LinkOpener.TryReadDescriptor(file);
                if (descriptor?.ParentFileNameHint is not { } hint) continue;
                if (ParentResolver.Candidates(file, hint, ParentResolver.NoParentMap, []).Any(c => File.Exists(c) && PathInspection.Canonical(c) == target))
                    children.Add(file);
            }
        }
        return children;
    }
}
