using System.Text;
using MountChain.Core.Chain;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Cow;

/// <summary>
/// Finds the links in a folder that name a given link as their parent (linked clones, other
/// snapshots), by reading only their descriptors: commit and unlink must not tear them (§1.6).
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
                var descriptor = TryReadDescriptor(file);
                if (descriptor?.ParentFileNameHint is not { } hint) continue;
                if (HintCandidates(file, hint).Any(c => File.Exists(c) && PathInspection.Canonical(c) == target))
                    children.Add(file);
            }
        }
        return children;
    }

    /// <summary>The descriptor of a VMDK link file (embedded or text), or null if the file is not one.</summary>
    public static VmdkDescriptor? TryReadDescriptor(string file)
    {
        try
        {
            using var handle = FileOpening.OpenReadOnly(file);
            long length = RandomAccess.GetLength(handle);
            Span<byte> head = stackalloc byte[512];
            int n = RandomAccess.Read(handle, head, 0);
            if (n == 512 && SparseExtentHeader.HasMagic(head))
            {
                var header = SparseExtentHeader.Parse(head, file);
                if (header.DescriptorOffset == 0 || (long)(header.DescriptorOffset + header.DescriptorSize) * 512 > length) return null;
                var bytes = new byte[header.DescriptorSize * 512];
                FileOpening.ReadExactly(handle, bytes, (long)header.DescriptorOffset * 512, file);
                return DescriptorParser.Parse(bytes, file);
            }
            if (length > DescriptorParser.MaxDescriptorBytes || !VmdkProbe.LooksLikeVmdk(head[..n])) return null;
            var text = new byte[length];
            FileOpening.ReadExactly(handle, text, 0, file);
            return DescriptorParser.Parse(text, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Errors.VmdkException)
        {
            return null;
        }
    }

    /// <summary>Where a hint can point, in the resolver's order (format doc §1.7 steps 2–4).</summary>
    private static IEnumerable<string> HintCandidates(string childFile, string hint)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(childFile))!;
        string normalized = hint.Replace('\\', '/');
        if (normalized.StartsWith('/')) yield return normalized;
        else if (!(normalized.Length >= 2 && normalized[1] == ':')) yield return Path.GetFullPath(Path.Combine(dir, normalized));
        string baseName = normalized[(normalized.LastIndexOf('/') + 1)..];
        if (baseName.Length > 0) yield return Path.Combine(dir, baseName);
    }
}
