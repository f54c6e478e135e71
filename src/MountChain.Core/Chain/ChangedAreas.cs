using MountChain.Core.Formats;
using MountChain.Core.Mapping;

namespace MountChain.Core.Chain;

/// <summary>
/// Areas that may differ between generations <c>from</c> and <c>to</c> of one chain, from the
/// grain tables alone (format doc §7.3): the union of everything allocated (data or zeroed) in
/// links from+1..to. A superset of the bytes that really changed, never missing one, as the CID
/// chain proves the lower links were not modified after their children were created.
/// </summary>
public static class ChangedAreas
{
    public static List<(long Offset, long Length)> Between(VmdkChain chain, int from, int to)
    {
        if (!chain.HasGeneration(from) || !chain.HasGeneration(to) || from >= to)
            throw new ArgumentOutOfRangeException(nameof(from), $"need 0 ≤ from < to ≤ {chain.TopGeneration}");
        var ranges = new List<(long Start, long End)>();
        var pieces = new List<LinkPiece>();
        var scratch = new List<ExtentPiece>();
        const long step = 1L << 22;
        for (int g = from + 1; g <= to; g++)
        {
            var link = chain.Links[g];
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
