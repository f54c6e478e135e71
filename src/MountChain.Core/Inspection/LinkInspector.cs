using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Grains;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Core.Mapping;

namespace MountChain.Core.Inspection;

/// <summary>What `info` reports about one link after reading all of its tables.</summary>
public sealed record LinkReport(long AllocatedBytes, long ZeroBytes, string Validation, IReadOnlyList<string> Problems);

/// <summary>
/// Reads every grain table of a link: counts allocation and runs the whole-file checks that the
/// lazy reader cannot afford on each open (grains of different tables overlapping, §10.2 item 3).
/// </summary>
public static class LinkInspector
{
    /// <summary>Largest number of grains we sort for the cross-table overlap check (4 bytes each).</summary>
    private const long MaxGrainsForOverlapCheck = 64L * 1024 * 1024;

    public static LinkReport Inspect(Link link)
    {
        var problems = new List<string>(link.Warnings);
        long allocated = 0, zero = 0;
        try
        {
            var pieces = new List<LinkPiece>();
            var scratch = new List<ExtentPiece>();
            const long step = 1L << 22;
            for (long s = 0; s < link.CapacitySectors; s += step)
            {
                pieces.Clear();
                link.Map(s, Math.Min(step, link.CapacitySectors - s), pieces, scratch);
                foreach (var p in pieces)
                {
                    if (p.Kind is PieceKind.Data or PieceKind.Compressed) allocated += p.Count * Sector.Size;
                    else if (p.Kind == PieceKind.Zero) zero += p.Count * Sector.Size;
                }
            }
            foreach (var extent in link.Extents.OfType<HostedSparseExtent>())
            {
                string? overlap = FindCrossTableOverlap(extent);
                if (overlap is not null) throw new CorruptMetadataException(extent.FilePath!, overlap);
            }
        }
        catch (VmdkException e)
        {
            problems.Add(e.Message);
            return new LinkReport(allocated, zero, "corrupt: " + e.Message, problems);
        }
        return new LinkReport(allocated, zero, problems.Count == 0 ? "ok" : "ok (with warnings)", problems);
    }

    private static string? FindCrossTableOverlap(HostedSparseExtent extent)
    {
        var entries = new List<uint>();
        for (long t = 0; t < extent.GrainTableCount; t++)
        {
            var table = extent.ReadGrainTable(t);
            if (table is null) continue;
            foreach (uint e in table)
                if (e > 1) entries.Add(e);
            if (entries.Count > MaxGrainsForOverlapCheck) return null;
        }
        entries.Sort();
        var sorted = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(entries);
        int at = GrainRuns.FirstOverlap<uint>(sorted, extent.IsCompressed ? 1 : extent.GrainSectors);
        return at < 0 ? null : $"two grains overlap at sector {sorted[at]}";
    }
}
