using System.Buffers;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Grains;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Inspection;

/// <summary>What `info` reports about one link after reading all of its tables.</summary>
internal sealed record LinkReport(long AllocatedBytes, long ZeroBytes, string Validation, IReadOnlyList<string> Problems);

/// <summary>
/// Reads every grain table of a link once: counts allocation and runs the whole-file checks that
/// the lazy reader cannot afford on each open (grains of different tables overlapping, §10.2 item 3).
/// </summary>
internal static class LinkInspector
{
    /// <summary>Largest number of grains we sort for the cross-table overlap check (4 bytes each).</summary>
    private const long MaxGrainsForOverlapCheck = 64L * 1024 * 1024;

    public static LinkReport Inspect(Link link)
    {
        var problems = new List<string>(link.Warnings);
        var count = new Allocation();
        try
        {
            var scratch = new List<ExtentPiece>();
            foreach (var extent in link.Extents)
            {
                if (extent is HostedSparseExtent hosted)
                {
                    string? overlap = ScanHosted(hosted, count);
                    if (overlap is not null) throw new CorruptMetadataException(hosted.FilePath!, overlap);
                }
                else
                {
                    CountMapped(extent, count, scratch);
                }
            }
        }
        catch (VmdkException e)
        {
            problems.Add(e.Message);
            return new LinkReport(count.Allocated, count.Zero, "corrupt: " + e.Message, problems);
        }
        return new LinkReport(count.Allocated, count.Zero, problems.Count == 0 ? "ok" : "ok (with warnings)", problems);
    }

    private sealed class Allocation
    {
        public long Allocated, Zero;
    }

    /// <summary>Any other extent: counted from its own mapping, 4 Mi sectors at a time.</summary>
    private static void CountMapped(IExtent extent, Allocation count, List<ExtentPiece> pieces)
    {
        const long step = 1L << 22;
        for (long s = 0; s < extent.Sectors; s += step)
        {
            pieces.Clear();
            extent.Map(s, Math.Min(step, extent.Sectors - s), pieces);
            foreach (var p in pieces)
            {
                if (p.Kind is PieceKind.Data or PieceKind.Compressed) count.Allocated += p.Count * Sector.Size;
                else if (p.Kind == PieceKind.Zero) count.Zero += p.Count * Sector.Size;
            }
        }
    }

    /// <summary>
    /// One pass over the tables of a hosted sparse extent (each read and checked once, as the
    /// reader checks them): counts allocated and zeroed grains, clipped to the capacity, and
    /// collects grain positions for the overlap check; returns the overlap found, or null.
    /// </summary>
    private static string? ScanHosted(HostedSparseExtent extent, Allocation count)
    {
        int perTable = extent.EntriesPerTable;
        long grainSectors = extent.GrainSectors;
        var entries = new List<uint>();
        bool tooMany = false;
        uint[] table = ArrayPool<uint>.Shared.Rent(perTable);
        try
        {
            for (long t = 0; t < extent.GrainTableCount; t++)
            {
                if (!extent.TryReadGrainTable(t, table.AsSpan(0, perTable))) continue;
                long firstGrain = t * perTable;
                for (int i = 0; i < perTable; i++)
                {
                    uint e = table[i];
                    if (e == 0) continue;
                    long start = (firstGrain + i) * grainSectors;
                    if (start >= extent.Sectors) break;
                    long bytes = Math.Min(grainSectors, extent.Sectors - start) * Sector.Size;
                    if (e == 1)
                    {
                        count.Zero += bytes;
                        continue;
                    }
                    count.Allocated += bytes;
                    if (!tooMany)
                    {
                        entries.Add(e);
                        tooMany = entries.Count > MaxGrainsForOverlapCheck;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(table);
        }
        if (tooMany) return null;
        var sorted = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(entries);
        // Grains are mostly allocated in table order: skip the sort when they already are.
        if (!IsSorted(sorted)) sorted.Sort();
        int at = GrainRuns.FirstOverlap<uint>(sorted, extent.IsCompressed ? 1 : extent.GrainSectors);
        return at < 0 ? null : $"two grains overlap at sector {sorted[at]}";
    }

    private static bool IsSorted(ReadOnlySpan<uint> values)
    {
        for (int i = 1; i < values.Length; i++)
            if (values[i] < values[i - 1]) return false;
        return true;
    }
}
