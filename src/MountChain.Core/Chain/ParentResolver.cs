using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;

namespace MountChain.Core.Chain;

/// <summary>
/// Finds and opens the parent of a link from its parentFileNameHint, trying the places of format
/// doc §1.7 in order and accepting only a candidate whose CID and capacity fit (§1.6, §6.2).
/// </summary>
internal sealed class ParentResolver(ChainOpenOptions options)
{
    /// <summary>Opens the parent of <paramref name="child"/>; <paramref name="visited"/> holds canonical paths already in the chain. Also returns the parent's canonical path.</summary>
    public (Link Parent, string? Warning, string Canonical) OpenParent(Link child, IReadOnlyCollection<string> chainDirectories, ISet<string> visited)
    {
        string hint = child.Descriptor.ParentFileNameHint!;
        var looked = new List<string>();
        VmdkException? firstMismatch = null;
        foreach (string candidate in Candidates(child.Path, hint, options.ParentMap, chainDirectories, options.PathMappings))
        {
            if (looked.Contains(candidate)) continue;
            looked.Add(candidate);
            var kind = PathInspection.Inspect(candidate);
            if (kind == PathInspection.Kind.Missing) continue;
            if (kind == PathInspection.Kind.Directory)
                throw new MissingParentException(child.Path, $"parentFileNameHint '{hint}' names a directory ({candidate})");
            if (kind is PathInspection.Kind.Device or PathInspection.Kind.Other)
                throw new MissingParentException(child.Path, $"parentFileNameHint '{hint}' names a device or special file ({candidate})");
            string canonical = CanonicalOf(candidate);
            if (visited.Contains(canonical))
                throw new ChainMismatchException(child.Path, $"parentFileNameHint '{hint}' leads back to {candidate}, already in the chain (cycle)");

            var parent = LinkOpener.OpenRegularFile(candidate);
            string? problem = Validate(child, parent, out bool cidOnly, out string? warning);
            if (problem is null) return (parent, warning, canonical);
            parent.Dispose();
            if (cidOnly && options.IgnoreCid)
            {
                // Forensic override (design.md rule 5): accept the first existing candidate anyway.
                return (LinkOpener.Open(candidate), $"CID check overridden: {problem}", canonical);
            }
            firstMismatch ??= new ChainMismatchException(child.Path, problem);
        }
        if (firstMismatch is not null) throw firstMismatch;
        throw new MissingParentException(child.Path,
            $"parent '{hint}' not found; looked in: {string.Join(", ", looked)}");
    }

    /// <summary>Canonical folders already resolved in this open: links of one chain mostly share one.</summary>
    private readonly Dictionary<string, string> _canonicalFolders = new(StringComparer.Ordinal);

    /// <summary>
    /// <see cref="PathInspection.Canonical"/> of a candidate, resolving its folder once per open
    /// (realpath costs a readlink per path component, per link of a deep chain); a candidate that is
    /// itself a symbolic link is resolved whole.
    /// </summary>
    private string CanonicalOf(string candidate)
    {
        string? folder = Path.GetDirectoryName(candidate);
        if (OperatingSystem.IsWindows() || folder is null || new FileInfo(candidate).LinkTarget is not null)
            return PathInspection.Canonical(candidate);
        if (!_canonicalFolders.TryGetValue(folder, out var canonicalFolder))
            _canonicalFolders[folder] = canonicalFolder = PathInspection.Canonical(folder);
        return Path.Combine(canonicalFolder, Path.GetFileName(candidate));
    }

    /// <summary>Null when <paramref name="parent"/> may be the parent of <paramref name="child"/>.</summary>
    private static string? Validate(Link child, Link parent, out bool cidOnly, out string? warning)
    {
        var fit = ParentFit.Check(child.CapacitySectors, child.ParentCid, parent.CapacitySectors, parent.Cid);
        string? text = ParentFit.Explain(fit, child.CapacitySectors, child.ParentCid, parent.Path, parent.CapacitySectors, parent.Cid);
        cidOnly = fit == ParentFitResult.CidDiffers;
        warning = fit == ParentFitResult.Uncheckable ? text : null;
        return ParentFit.Accepts(fit) ? null : text;
    }

    /// <summary>For callers without explicit parent mappings (folder scans).</summary>
    public static readonly IReadOnlyDictionary<string, string> NoParentMap = new Dictionary<string, string>();

    /// <summary>Candidate files for the parent of <paramref name="childPath"/>, in the order of format doc §1.7.</summary>
    public static IEnumerable<string> Candidates(string childPath, string hint, IReadOnlyDictionary<string, string> parentMap, IEnumerable<string> chainDirectories, IReadOnlyList<PathMapping>? pathMappings = null)
    {
        string childDir = Path.GetDirectoryName(Path.GetFullPath(childPath))!;
        // (1) explicit user mapping
        if (parentMap.TryGetValue(hint, out var mapped)) yield return Path.GetFullPath(mapped);
        foreach (var mapping in pathMappings ?? [])
            if (mapping.Apply(hint) is string remapped) yield return remapped;
        string normalized = hint.Replace('\\', '/');
        // (2) absolute POSIX hint
        bool windowsAbsolute = PathMapping.IsWindowsStyle(normalized);
        if (hint.StartsWith('/') && !windowsAbsolute) yield return hint;
        // (3) hint (with '\' → '/') relative to the child's directory
        if (!normalized.StartsWith('/') && !windowsAbsolute)
            yield return Path.GetFullPath(Path.Combine(childDir, normalized));
        // (4) basename in the child's directory
        string baseName = normalized[(normalized.LastIndexOf('/') + 1)..];
        if (baseName.Length > 0)
        {
            yield return Path.Combine(childDir, baseName);
            // (5) basename in the directories of other chain members
            foreach (var dir in chainDirectories)
                yield return Path.Combine(dir, baseName);
            // (6) an absolute hint (/vmfs/volumes/<datastore>/<vm>/f, C:\VMs\<vm>\f, \\srv\share\<vm>\f) whose
            // VM folder was copied next to the child's folder: <child dir>/../<vm>/f (dissect's rule).
            string[] parts = normalized.Split('/', StringSplitOptions.RemoveEmptyEntries);
            string? up = Path.GetDirectoryName(childDir);
            if ((normalized.StartsWith('/') || windowsAbsolute) && parts.Length >= 2 && up is not null)
                yield return Path.Combine(up, parts[^2], baseName);
        }
    }
}
