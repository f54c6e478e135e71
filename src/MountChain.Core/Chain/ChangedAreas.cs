using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Mapping;

namespace MountChain.Core.Chain;

/// <summary>
/// Areas that may differ between two generations, from the grain tables alone (format doc §7.3):
/// the union of everything allocated (data or zeroed) in the links above their common ancestor.
/// A superset of the bytes that really changed, never missing one, as the CID chain proves the
/// lower links were not modified after their children were created.
/// </summary>
public static class ChangedAreas
{
    /// <summary>Generations <paramref name="from"/> &lt; <paramref name="to"/> of one chain: what links from+1..to allocate.</summary>
    public static List<(long Offset, long Length)> Between(VmdkChain chain, int from, int to)
    {
        if (!chain.HasGeneration(from) || !chain.HasGeneration(to) || from >= to)
            throw new ArgumentOutOfRangeException(nameof(from), $"need 0 ≤ from < to ≤ {chain.TopGeneration}");
        return Allocated(chain.Links.Skip(from + 1).Take(to - from));
    }

    /// <summary>
    /// Generation <paramref name="ga"/> of <paramref name="a"/> and <paramref name="gb"/> of
    /// <paramref name="b"/>, on the same branch or on two branches (linked clones, snapshot trees):
    /// the union of what each side allocates above their common ancestor (§7.3 "across branches").
    /// Returns the ancestor's generation too. Refused when the two share no base.
    /// </summary>
    public static (int Ancestor, List<(long Offset, long Length)> Areas) Across(VmdkChain a, int ga, VmdkChain b, int gb)
    {
        a.RequireGeneration(ga);
        b.RequireGeneration(gb);
        if (a.CapacitySectors != b.CapacitySectors)
            throw new ChainMismatchException(b.Links[gb].Path, $"capacity {b.CapacitySectors} sectors differs from {a.Links[ga].Path} ({a.CapacitySectors} sectors): not generations of one disk");
        int ancestor = CommonAncestor(a, ga, b, gb);
        if (ancestor < 0)
            throw new ChainMismatchException(b.Links[gb].Path, $"shares no link with {a.Links[ga].Path}: their bases {b.Links[0].Path} and {a.Links[0].Path} differ, so there is no common ancestor");
        var links = a.Links.Skip(ancestor + 1).Take(ga - ancestor).Concat(b.Links.Skip(ancestor + 1).Take(gb - ancestor));
        return (ancestor, Allocated(links));
    }

    /// <summary>The highest generation both prefixes share (the same file at the same depth), or -1.</summary>
    private static int CommonAncestor(VmdkChain a, int ga, VmdkChain b, int gb)
    {
        int k = -1;
        for (int g = 0; g <= Math.Min(ga, gb); g++)
        {
            if (PathInspection.Canonical(a.Links[g].Path) != PathInspection.Canonical(b.Links[g].Path)) break;
            k = g;
        }
        return k;
    }

    /// <summary>Merged sector ranges (as bytes) that any of <paramref name="links"/> allocates or zeroes.</summary>
    private static List<(long Offset, long Length)> Allocated(IEnumerable<Link> links)
    {
        var ranges = new List<(long Start, long End)>();
        var pieces = new List<LinkPiece>();
        var scratch = new List<ExtentPiece>();
        const long step = 1L << 22;
        foreach (var link in links)
        {
            for (long s = 0; s < link.CapacitySectors; s += step)
            {
                pieces.Clear();
                link.Map(s, Math.Min(step, link.CapacitySectors - s), pieces, scratch);
                foreach (var p in pieces)
                    if (p.Kind != PieceKind.Unallocated) ranges.Add((p.Start, p.Start + p.Count));
            }
        }
        ranges.Sort();
        var result = new List<(long Offset, long Length)>();
        long curStart = -1, curEnd = -1;
        foreach (var (s, e) in ranges)
        {
            if (curEnd >= s) { curEnd = Math.Max(curEnd, e); continue; }
            if (curStart >= 0) result.Add((curStart * Sector.Size, (curEnd - curStart) * Sector.Size));
            (curStart, curEnd) = (s, e);
        }
        if (curStart >= 0) result.Add((curStart * Sector.Size, (curEnd - curStart) * Sector.Size));
        return result;
    }
}
