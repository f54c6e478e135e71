namespace MountChain.FileSystems.Operations;

internal enum FileChangeKind : byte { Added, Removed, Modified }

/// <summary>A file that differs between two manifests.</summary>
internal sealed record FileChange(FileChangeKind Kind, string Path, ManifestEntry? Before, ManifestEntry? After);

/// <summary>Added, removed and modified (different size or hash) files between two manifests, in path order.</summary>
internal static class ManifestDiff
{
    public static List<FileChange> Compare(IReadOnlyList<ManifestEntry> before, IReadOnlyList<ManifestEntry> after)
    {
        var old = before.ToDictionary(e => e.Path, StringComparer.Ordinal);
        var changes = new List<FileChange>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in after)
        {
            seen.Add(a.Path);
            if (!old.TryGetValue(a.Path, out var b)) changes.Add(new FileChange(FileChangeKind.Added, a.Path, null, a));
            else if (a.Size != b.Size || a.Sha256 != b.Sha256) changes.Add(new FileChange(FileChangeKind.Modified, a.Path, b, a));
        }
        foreach (var b in before)
            if (!seen.Contains(b.Path)) changes.Add(new FileChange(FileChangeKind.Removed, b.Path, b, null));
        changes.Sort((x, y) => FileManifest.CompareUtf8(x.Path, y.Path));
        return changes;
    }
}
