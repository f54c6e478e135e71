using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Cowd;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Core.Formats.SeSparse;

namespace MountChain.Core.Inspection;

/// <summary>The findings of one link (its descriptor file and its extents).</summary>
internal sealed record LinkCheck(string File, string? CreateType, IReadOnlyList<CheckFinding> Findings);

/// <summary>What `check` found in a chain, base first.</summary>
internal sealed record ChainCheckReport(string File, IReadOnlyList<LinkCheck> Links)
{
    public bool HasProblems => Links.Any(l => l.Findings.Any(f => f.Severity == FindingSeverity.Problem));
}

/// <summary>
/// `mountchain check` (like `qemu-img check`): every hazard of format doc §10.2 in each link of a
/// chain, listed with file, field and offset instead of stopping at the first. Links are walked
/// by descriptor (<see cref="ParentLookup"/>), so a link that cannot be opened still leads to its
/// parent and a broken CID edge is reported, not fatal. Read-only.
/// </summary>
internal static class ChainChecker
{
    public static ChainCheckReport Check(string path, ChainOpenOptions? options = null)
    {
        options ??= ChainOpenOptions.Default;
        var links = new List<LinkCheck>();
        var visited = new HashSet<string>();
        var directories = new List<string>();
        string? current = Path.GetFullPath(path);
        while (current is not null)
        {
            visited.Add(PathInspection.Canonical(current));
            string dir = Path.GetDirectoryName(current)!;
            if (!directories.Contains(dir)) directories.Add(dir);
            var findings = new FindingList();
            VmdkDescriptor? descriptor = ReadDescriptor(current, findings);
            string? next = null;
            if (descriptor is not null)
            {
                CheckDescriptor(current, descriptor, findings);
                CheckExtents(current, descriptor, findings);
                next = FollowParent(current, descriptor, options, directories, visited, findings);
                if (next is not null && links.Count + 1 >= options.MaxDepth)
                {
                    findings.Problem(current, "parentFileNameHint", null, $"chain is deeper than {options.MaxDepth} links (cycle or absurd depth, §10.2 item 6)");
                    next = null;
                }
            }
            findings.Summarise();
            links.Add(new LinkCheck(current, descriptor?.CreateType, findings.Items));
            current = next;
        }
        links.Reverse();
        return new ChainCheckReport(Path.GetFullPath(path), links);
    }

    private static VmdkDescriptor? ReadDescriptor(string path, FindingList findings)
    {
        try
        {
            var d = LinkOpener.ReadDescriptor(path);
            if (d is null) findings.Problem(path, "file", 0, "not a VMDK link (no KDMV header, no descriptor text): an extent data file or another kind of image; check its descriptor instead");
            return d;
        }
        catch (VmdkException e)
        {
            findings.Problem(e.FilePath, "descriptor", null, e.Problem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            findings.Problem(path, "file", null, e.Message);
        }
        return null;
    }

    /// <summary>§10.2 item 10 and §1.5–1.6: what the descriptor says against itself and the formats' rules.</summary>
    private static void CheckDescriptor(string path, VmdkDescriptor d, FindingList findings)
    {
        var expected = ExtentTypeOf(d.CreateType);
        for (int i = 0; i < d.Extents.Count; i++)
        {
            var e = d.Extents[i];
            if (expected is { } want && e.Type != want && e.Type != ExtentType.Zero)
                findings.Warning(path, "createType", null, $"createType \"{d.CreateType}\" but extent line {i + 1} is {e.Type.ToString().ToUpperInvariant()} (we read by the extent type)", "createType");
        }
        if (d.Cid == VmdkDescriptor.UncheckableCid)
            findings.Warning(path, "CID", null, "CID fffffffe: ESXi does not keep this link's content ID, so no child's parentCID can be checked against it (§1.6)");
        if (!d.HasParent && d.ParentFileNameHint is { Length: > 0 } hint)
            findings.Warning(path, "parentFileNameHint", null, $"parentCID is ffffffff (a base) but parentFileNameHint names '{hint}': the hint is ignored");
        if (d.Ddb.TryGetValue(DescriptorText.LongContentIdKey, out var longId) && longId.Length == 32 &&
            !longId.EndsWith(d.Cid.ToString("x8"), StringComparison.OrdinalIgnoreCase))
            findings.Warning(path, DescriptorText.LongContentIdKey, null, $"ddb.longContentID {longId} does not end in CID {d.Cid:x8} (VMware keeps them equal; a tool that does not changed the link, §1.5)");
    }

    private static ExtentType? ExtentTypeOf(string createType) => createType.ToLowerInvariant() switch
    {
        "monolithicsparse" or "twogbmaxextentsparse" or "streamoptimized" => ExtentType.Sparse,
        "monolithicflat" or "twogbmaxextentflat" => ExtentType.Flat,
        "vmfs" or "vmfsthin" or "vmfspreallocated" or "vmfseagerzeroedthick" => ExtentType.Vmfs,
        "vmfssparse" => ExtentType.VmfsSparse,
        "sesparse" or "vmfssesparse" => ExtentType.SeSparse,
        _ => null,
    };

    /// <summary>Opens the link (the readers' open-time checks) and walks every table of its sparse extents.</summary>
    private static void CheckExtents(string path, VmdkDescriptor d, FindingList findings)
    {
        try
        {
            using var link = LinkOpener.Open(path);
            foreach (string w in link.Warnings) findings.Warning(path, "link", null, w);
            foreach (var extent in link.Extents)
            {
                switch (extent)
                {
                    case HostedSparseExtent h:
                        if (d.CreateType.Equals("streamOptimized", StringComparison.OrdinalIgnoreCase) != h.IsCompressed)
                            findings.Warning(h.FilePath!, "flags", SparseHeaderLayout.Flags, $"createType \"{d.CreateType}\" but the header {(h.IsCompressed ? "says compressed (streamOptimized)" : "is not compressed")}");
                        GrainTableCheck.Hosted(h, findings);
                        break;
                    case CowdExtent c:
                        GrainTableCheck.Cowd(c, findings);
                        break;
                    case SeSparseExtent s:
                        GrainTableCheck.SeSparse(s, findings);
                        break;
                }
            }
        }
        catch (VmdkException e)
        {
            findings.Problem(e.FilePath, "link", null, e.Problem);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            findings.Problem(path, "link", null, e.Message);
        }
    }

    /// <summary>§10.2 items 6–8 on the edge to the parent; returns the parent to check next, or null.</summary>
    private static string? FollowParent(string path, VmdkDescriptor d, ChainOpenOptions options, List<string> directories, HashSet<string> visited, FindingList findings)
    {
        var edge = ParentLookup.Find(new LinkDescription(path, d), Describe, options, directories);
        switch (edge.State)
        {
            case ParentEdgeState.Missing:
            case ParentEdgeState.Unreadable:
                findings.Problem(path, "parentFileNameHint", null, edge.Problem!);
                break;
            case ParentEdgeState.CidDiffers:
                findings.Problem(path, "parentCID", null, edge.Problem!);
                break;
            case ParentEdgeState.CapacityDiffers:
                findings.Problem(path, "extent sizes", null, edge.Problem!);
                break;
            case ParentEdgeState.Uncheckable:
                findings.Warning(path, "parentCID", null, edge.Problem!);
                break;
        }
        if (edge.ParentPath is not { } parent) return null;
        if (visited.Contains(PathInspection.Canonical(parent)))
        {
            findings.Problem(path, "parentFileNameHint", null, $"parentFileNameHint '{d.ParentFileNameHint}' leads back to {parent}, already in the chain (cycle, §10.2 item 6)");
            return null;
        }
        return parent;
    }

    private static LinkDescription? Describe(string candidate) =>
        LinkOpener.TryReadDescriptor(candidate) is { } d ? new LinkDescription(candidate, d) : null;
}
