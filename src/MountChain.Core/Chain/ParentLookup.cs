using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;

namespace MountChain.Core.Chain;

/// <summary>A link known by its descriptor alone (folder scans, `tree`, `check`): no extent is opened.</summary>
internal sealed record LinkDescription(string Path, VmdkDescriptor Descriptor)
{
    public long CapacitySectors => Descriptor.CapacitySectors;
}

/// <summary>What became of a link's parent hint.</summary>
internal enum ParentEdgeState
{
    /// <summary>The link has no parent (parentCID ffffffff).</summary>
    Base,
    /// <summary>Parent found; CID and capacity fit.</summary>
    Fits,
    /// <summary>Parent found; a CID is fffffffe, so the content link cannot be checked (§1.6).</summary>
    Uncheckable,
    /// <summary>Only a candidate whose parentCID does not match was found (§10.2 item 7).</summary>
    CidDiffers,
    /// <summary>Only a candidate of another capacity was found (§10.2 item 8).</summary>
    CapacityDiffers,
    /// <summary>A candidate exists but its descriptor cannot be read (damaged, or no link at all).</summary>
    Unreadable,
    /// <summary>No candidate of the §1.7 order exists.</summary>
    Missing,
}

/// <summary>The parent a link's hint leads to: the file (null when missing), how it fits, and the problem in words.</summary>
internal sealed record ParentEdge(ParentEdgeState State, string? ParentPath, string? Problem)
{
    public bool IsBroken => State is ParentEdgeState.CidDiffers or ParentEdgeState.CapacityDiffers or ParentEdgeState.Unreadable or ParentEdgeState.Missing;
}

/// <summary>
/// The chain's parent rule (§1.7 candidate order from <see cref="ParentResolver.Candidates"/>,
/// capacity and CID from <see cref="ParentFit"/>) applied to descriptors only, so a folder or a
/// damaged chain can be described without opening any extent. <see cref="ParentResolver"/> applies
/// the same rule to opened links.
/// </summary>
internal static class ParentLookup
{
    /// <summary>
    /// Where <paramref name="child"/>'s parent is: the first candidate that fits, else the first that
    /// exists but does not fit, else missing. <paramref name="describe"/> gives a candidate's
    /// descriptor (null when it is no link).
    /// </summary>
    public static ParentEdge Find(LinkDescription child, Func<string, LinkDescription?> describe, ChainOpenOptions options, IEnumerable<string> chainDirectories)
    {
        var d = child.Descriptor;
        if (!d.HasParent) return new ParentEdge(ParentEdgeState.Base, null, null);
        string? hint = d.ParentFileNameHint;
        if (string.IsNullOrEmpty(hint))
            return new ParentEdge(ParentEdgeState.Missing, null, $"parentCID {d.ParentCid:x8} is set but there is no parentFileNameHint");
        var looked = new List<string>();
        string self = PathInspection.Canonical(child.Path);
        bool namesItself = false;
        ParentEdge? firstMismatch = null;
        string? unreadable = null;
        foreach (string candidate in ParentResolver.Candidates(child.Path, hint, options.ParentMap, chainDirectories, options.PathMappings))
        {
            if (looked.Contains(candidate)) continue;
            looked.Add(candidate);
            if (PathInspection.Inspect(candidate) != PathInspection.Kind.RegularFile) continue;
            if (PathInspection.Canonical(candidate) == self) { namesItself = true; continue; } // never its own parent
            var parent = describe(candidate);
            if (parent is null) { unreadable ??= candidate; continue; }
            var fit = ParentFit.Check(child.CapacitySectors, d.ParentCid, parent.CapacitySectors, parent.Descriptor.Cid);
            string? text = ParentFit.Explain(fit, child.CapacitySectors, d.ParentCid, parent.Path, parent.CapacitySectors, parent.Descriptor.Cid);
            if (ParentFit.Accepts(fit))
                return new ParentEdge(fit == ParentFitResult.Fits ? ParentEdgeState.Fits : ParentEdgeState.Uncheckable, parent.Path, text);
            firstMismatch ??= new ParentEdge(fit == ParentFitResult.CidDiffers ? ParentEdgeState.CidDiffers : ParentEdgeState.CapacityDiffers, parent.Path, text);
        }
        if (firstMismatch is null && unreadable is null && namesItself)
            return new ParentEdge(ParentEdgeState.Missing, null, $"parentFileNameHint '{hint}' names the link itself (cycle, §10.2 item 6)");
        if (firstMismatch is null && unreadable is not null)
            return new ParentEdge(ParentEdgeState.Unreadable, unreadable, $"parent '{hint}' is {unreadable}, which is not a readable VMDK link");
        return firstMismatch ?? new ParentEdge(ParentEdgeState.Missing, null, $"parent '{hint}' not found; looked in: {string.Join(", ", looked)}");
    }
}
