using MountChain.Core.Formats.Descriptor;

namespace MountChain.Core.Chain;

/// <summary>Whether a link may sit on another one (the answer of <see cref="ParentFit.Check"/>).</summary>
internal enum ParentFitResult
{
    /// <summary>Same capacity, parentCID equals the parent's CID.</summary>
    Fits,
    /// <summary>Same capacity; a CID is fffffffe, so the content link cannot be checked (§1.6).</summary>
    Uncheckable,
    /// <summary>The capacities differ (VMware: "capacity of each link is different", §10.2 item 8).</summary>
    CapacityDiffers,
    /// <summary>parentCID is not the parent's CID: the parent changed after the child was made (§10.2 item 7).</summary>
    CidDiffers,
}

/// <summary>The one rule for "this link belongs on that parent" (format doc §1.6, §6.2): capacity first, then CID.</summary>
internal static class ParentFit
{
    public static ParentFitResult Check(long childSectors, uint childParentCid, long parentSectors, uint parentCid)
    {
        if (childSectors != parentSectors) return ParentFitResult.CapacityDiffers;
        if (childParentCid == VmdkDescriptor.UncheckableCid || parentCid == VmdkDescriptor.UncheckableCid) return ParentFitResult.Uncheckable;
        return childParentCid == parentCid ? ParentFitResult.Fits : ParentFitResult.CidDiffers;
    }

    /// <summary>True when the parent is accepted (the CID may still be unverifiable).</summary>
    public static bool Accepts(ParentFitResult result) => result is ParentFitResult.Fits or ParentFitResult.Uncheckable;

    /// <summary>The one wording of a fit result (chain open, `tree`, `check`); null for <see cref="ParentFitResult.Fits"/>.</summary>
    public static string? Explain(ParentFitResult result, long childSectors, uint childParentCid, string parentPath, long parentSectors, uint parentCid) => result switch
    {
        ParentFitResult.CapacityDiffers => $"capacity {childSectors} sectors differs from parent {parentPath} ({parentSectors} sectors)",
        ParentFitResult.Uncheckable => "CID fffffffe: the parent's content ID cannot be checked",
        ParentFitResult.CidDiffers => $"parentCID {childParentCid:x8} does not match CID {parentCid:x8} of parent {parentPath}: the parent was modified after this link was created",
        _ => null,
    };
}
