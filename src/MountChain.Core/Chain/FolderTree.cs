using MountChain.Core.Errors;
using MountChain.Core.Formats;

namespace MountChain.Core.Chain;

/// <summary>One link of a folder tree, with the edge to its parent and the links that name it as parent.</summary>
internal sealed class TreeNode(LinkDescription link, bool outsideFolder)
{
    public LinkDescription Link { get; } = link;
    public string Path => Link.Path;
    /// <summary>A parent found outside the scanned folder (linked clones, §1.7).</summary>
    public bool OutsideFolder { get; } = outsideFolder;
    /// <summary>How this link sits on its parent (Base for a base disk).</summary>
    public ParentEdge Edge { get; internal set; } = new(ParentEdgeState.Base, null, null);
    public List<TreeNode> Children { get; } = [];
}

/// <summary>A file of the folder that belongs to no link, or a link that could not be read.</summary>
internal sealed record StrayFile(string Path, string Reason);

/// <summary>The result of <see cref="FolderTree.Scan"/>.</summary>
/// <param name="Roots">Base disks and links whose parent is missing, each with its descendants.</param>
/// <param name="InCycles">Links whose parent hints loop and so hang below no root.</param>
/// <param name="Orphans">Extent or change-tracking files no descriptor names.</param>
/// <param name="Unreadable">Files that look like links but whose descriptor cannot be read.</param>
internal sealed record FolderTreeResult(string Folder, IReadOnlyList<TreeNode> Roots, IReadOnlyList<TreeNode> InCycles,
    IReadOnlyList<StrayFile> Orphans, IReadOnlyList<StrayFile> Unreadable, int LinkCount);

/// <summary>
/// Every link in a folder as a forest (`mountchain tree`): each .vmdk is read once, descriptor
/// only (bounded reads, §10.1), parents are found by the chain's own rule (<see cref="ParentLookup"/>),
/// and every edge carries its CID/capacity check, so broken links are shown, not hidden.
/// </summary>
internal static class FolderTree
{
    /// <summary>Most links described in one scan, counting parents outside the folder.</summary>
    public const int MaxLinks = 100_000;

    public static FolderTreeResult Scan(string folder, ChainOpenOptions options)
    {
        folder = System.IO.Path.GetFullPath(folder);
        if (!Directory.Exists(folder)) throw new MissingParentException(folder, "no such folder");
        var nodes = new Dictionary<string, TreeNode>();
        var nonLinks = new List<string>();
        var unreadable = new List<StrayFile>();
        foreach (string file in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
        {
            if (!file.EndsWith(".vmdk", StringComparison.OrdinalIgnoreCase)) continue;
            if (PathInspection.Inspect(file) != PathInspection.Kind.RegularFile) continue;
            try
            {
                var d = LinkOpener.ReadDescriptor(file);
                if (d is null) nonLinks.Add(file);
                else nodes[PathInspection.Canonical(file)] = new TreeNode(new LinkDescription(file, d), outsideFolder: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or VmdkException)
            {
                unreadable.Add(new StrayFile(file, e is VmdkException v ? v.Problem : e.Message));
            }
        }

        var pending = new Queue<TreeNode>(nodes.Values);
        // Parents outside the folder are described on demand, once each.
        LinkDescription? Describe(string path)
        {
            string key = PathInspection.Canonical(path);
            if (nodes.TryGetValue(key, out var known)) return known.Link;
            if (nodes.Count >= MaxLinks) return null;
            var d = LinkOpener.TryReadDescriptor(path);
            if (d is null) return null;
            var node = new TreeNode(new LinkDescription(path, d), outsideFolder: true);
            nodes[key] = node;
            pending.Enqueue(node);
            return node.Link;
        }

        // Children mountchain recorded beside a link (ChildRegistry) may live in other folders: describe them too.
        foreach (var node in nodes.Values.ToList())
            foreach (string child in ChildRegistry.Listed(node.Path))
                if (PathInspection.Inspect(child) == PathInspection.Kind.RegularFile) Describe(child);
        string[] directories = [folder];
        while (pending.TryDequeue(out var node))
        {
            node.Edge = ParentLookup.Find(node.Link, Describe, options, directories);
            if (node.Edge.ParentPath is { } parent && nodes.TryGetValue(PathInspection.Canonical(parent), out var p))
                p.Children.Add(node);
        }
        foreach (var n in nodes.Values) n.Children.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));

        var roots = nodes.Values.Where(n => n.Edge.ParentPath is not { } parent || !nodes.ContainsKey(PathInspection.Canonical(parent))).OrderBy(n => n.Path, StringComparer.Ordinal).ToList();
        var reached = new HashSet<TreeNode>();
        var stack = new Stack<TreeNode>(roots);
        while (stack.TryPop(out var n))
            if (reached.Add(n)) foreach (var c in n.Children) stack.Push(c);
        var inCycles = nodes.Values.Where(n => !reached.Contains(n)).OrderBy(n => n.Path, StringComparer.Ordinal).ToList();

        return new FolderTreeResult(folder, roots, inCycles, Orphans(nodes.Values, nonLinks), unreadable, nodes.Count);
    }

    /// <summary>Extent data and change-tracking files (§7.1) of the folder that no link names.</summary>
    private static List<StrayFile> Orphans(IEnumerable<TreeNode> links, List<string> nonLinks)
    {
        var named = new HashSet<string>();
        foreach (var n in links)
        {
            string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(n.Path))!;
            foreach (var e in n.Link.Descriptor.Extents)
                if (e.FileName is { } f) named.Add(PathInspection.Canonical(LinkOpener.ResolveExtentFile(dir, f)));
            if (n.Link.Descriptor.Header.TryGetValue("changeTrackPath", out var ctk))
                named.Add(PathInspection.Canonical(LinkOpener.ResolveExtentFile(dir, ctk)));
        }
        return nonLinks.Where(f => !named.Contains(PathInspection.Canonical(f)))
            .Select(f => new StrayFile(f, OrphanReason(f))).ToList();
    }

    private static string OrphanReason(string file)
    {
        Span<byte> head = stackalloc byte[8];
        int n;
        using (var h = FileOpening.OpenReadOnly(file)) n = RandomAccess.Read(h, head, 0);
        string kind = n >= 4 && head[..4].SequenceEqual("COWD"u8) ? "vmfsSparse (COWD) delta"
            : n >= 8 && head[..8].SequenceEqual(new byte[] { 0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0 }) ? "SESparse delta"
            : n >= 4 && head[..4].SequenceEqual("KDMV"u8) ? "sparse extent without descriptor"
            : file.EndsWith("-ctk.vmdk", StringComparison.OrdinalIgnoreCase) ? "change-tracking file"
            : "extent data";
        return $"{kind} that no descriptor in the folder names";
    }
}
