using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Cowd;
using MountChain.Core.Formats.Grains;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Core.Formats.SeSparse;

namespace MountChain.Core.Inspection;

/// <summary>
/// `check`'s walk over every grain table of one sparse extent (format doc §10.2 items 1–4, 13, 14).
/// The entry rules are the readers' own (<see cref="HostedTableRules.EntryProblem"/>,
/// <see cref="CowdExtent.EntryProblem"/>, <see cref="SeSparseExtent.EntryProblem"/>); this walk
/// only applies them to every entry instead of stopping at the first, and adds the whole-file
/// checks a lazy reader cannot afford: grains of different tables overlapping, primary and
/// redundant tables disagreeing, every stream grain marker decoding.
/// </summary>
internal static class GrainTableCheck
{
    /// <summary>Most allocated grains collected for the overlap check (16 bytes each: 64 MiB).</summary>
    private const int MaxGrainsForOverlap = 4 << 20;

    private sealed class Allocation(string file)
    {
        public readonly List<(ulong Position, long Grain)> Grains = [];
        public bool Truncated;

        public void Add(ulong position, long grain)
        {
            if (Grains.Count < MaxGrainsForOverlap) Grains.Add((position, grain));
            else Truncated = true;
        }

        /// <summary>Grains whose positions lie less than <paramref name="span"/> apart share file space (§10.2 item 3).</summary>
        public void ReportOverlaps(FindingList findings, long span, Func<ulong, long> offsetOf, string unit)
        {
            if (Truncated)
                findings.Warning(file, "grain tables", null, $"more than {MaxGrainsForOverlap} allocated grains: the overlap check looked at the first {MaxGrainsForOverlap} only");
            Grains.Sort((a, b) => a.Position.CompareTo(b.Position));
            for (int i = 1; i < Grains.Count; i++)
            {
                var (p, g) = Grains[i];
                var (q, h) = Grains[i - 1];
                if ((long)(p - q) < span)
                    findings.Problem(file, $"grain {g}", offsetOf(p), $"grains {h} and {g} share file space at {unit} {p} (§10.2 item 3)", "overlap");
            }
        }
    }

    public static void Hosted(HostedSparseExtent x, FindingList findings)
    {
        string file = x.FilePath!;
        var rules = x.Rules;
        var table = new uint[rules.EntriesPerTable];
        var allocation = new Allocation(file);
        var grain = new byte[Sector.Size];
        for (long t = 0; t < x.GrainTableCount; t++)
        {
            uint gde = x.GrainDirectoryEntry(t);
            if (gde == 0) continue;
            long at = (long)gde * Sector.Size;
            TableEntries.Read<uint>(x.ReadData, table, at);
            for (int i = 0; i < table.Length; i++)
            {
                uint e = table[i];
                if (e == 0) continue;
                long g = t * table.Length + i;
                if (rules.EntryProblem(e, g) is { } problem)
                {
                    findings.Problem(file, $"grain table {t} entry {i}", at + i * 4L, $"grain table {t} entry {i} {problem}", "entry");
                    continue;
                }
                if (e <= 1) continue;
                allocation.Add(e, g);
                if (!x.IsCompressed) continue;
                try
                {
                    // §10.2 item 13: the reader's own marker, size and zlib checks, grain by grain.
                    x.ReadCompressed(grain, (long)e * Sector.Size, g * x.GrainSectors, 0);
                }
                catch (VmdkException error)
                {
                    findings.Problem(file, $"grain marker of grain {g}", (long)e * Sector.Size, error.Problem, "marker");
                }
            }
        }
        allocation.ReportOverlaps(findings, rules.GrainSpan, s => (long)s * Sector.Size, "sector");
        CompareRedundant(x, findings);
    }

    /// <summary>§2.6, §10.2 item 4: the redundant directory and tables must say what the primary ones say.</summary>
    private static void CompareRedundant(HostedSparseExtent x, FindingList findings)
    {
        string file = x.FilePath!;
        var h = x.Header;
        var rules = x.Rules;
        if (!h.HasRedundantTables || h.IsCompressed) return;
        if (h.RgdOffset == 0)
        {
            findings.Warning(file, "rgdOffset", SparseHeaderLayout.RgdOffset, "flags say redundant tables are kept, but rgdOffset is 0");
            return;
        }
        if (rules.DirectoryPlacementProblem(h.RgdOffset, "rgdOffset", "redundant grain directory") is { } rgdProblem)
        {
            findings.Problem(file, "rgdOffset", SparseHeaderLayout.RgdOffset, rgdProblem);
            return;
        }
        if (rules.DirectoryPlacementProblem(h.GdOffset, "gdOffset", "grain directory") is not null) return; // the reader already said so
        uint[] primary = rules.ReadDirectory(x.ReadData, h.GdOffset);
        uint[] redundant = rules.ReadDirectory(x.ReadData, h.RgdOffset);
        if (rules.DirectoryProblem(primary, "grain directory") is { } p)
            findings.Problem(file, "grain directory", (long)h.GdOffset * Sector.Size, p);
        if (rules.DirectoryProblem(redundant, "redundant grain directory") is { } r)
            findings.Problem(file, "redundant grain directory", (long)h.RgdOffset * Sector.Size, r);
        var a = new uint[rules.EntriesPerTable];
        var b = new uint[rules.EntriesPerTable];
        for (int t = 0; t < primary.Length; t++)
        {
            uint pe = primary[t], re = redundant[t];
            if ((pe == 0) != (re == 0))
            {
                findings.Problem(file, $"grain directory entry {t}", (long)h.GdOffset * Sector.Size + t * 4L,
                    $"primary grain directory entry {t} is {pe}, the redundant one is {re}: one copy has a grain table the other lacks", "gd-rgd");
                continue;
            }
            if (pe == 0 || rules.DirectoryEntryProblem(pe) is not null || rules.DirectoryEntryProblem(re) is not null) continue;
            TableEntries.Read<uint>(x.ReadData, a, (long)pe * Sector.Size);
            TableEntries.Read<uint>(x.ReadData, b, (long)re * Sector.Size);
            int differ = 0, first = -1;
            for (int i = 0; i < a.Length; i++)
                if (a[i] != b[i]) { differ++; if (first < 0) first = i; }
            if (differ > 0)
                findings.Problem(file, $"grain table {t} entry {first}", (long)pe * Sector.Size + first * 4L,
                    $"primary grain table {t} entry {first} is {a[first]}, the redundant copy says {b[first]} ({differ} entries of this table differ)", "gt-rgt");
        }
    }

    public static void Cowd(CowdExtent x, FindingList findings)
    {
        string file = x.FilePath!;
        var table = new uint[CowdHeaderLayout.GtEntries];
        var allocation = new Allocation(file);
        long freeSector = x.Header.FreeSector;
        if (freeSector * Sector.Size > x.FileLength)
            findings.Warning(file, "freeSector", CowdHeaderLayout.FreeSector, $"COWD header: freeSector {freeSector} lies past the end of the {x.FileLength}-byte file (a truncated copy?)");
        for (long t = 0; t < x.GrainTableCount; t++)
        {
            uint gde = x.GrainDirectoryEntry(t);
            if (gde == 0) continue;
            long at = (long)gde * Sector.Size;
            x.ReadTableEntries(t, table);
            for (int i = 0; i < table.Length; i++)
            {
                uint e = table[i];
                if (e == 0) continue;
                long g = t * table.Length + i;
                if (x.EntryProblem(e, g) is { } problem)
                    findings.Problem(file, $"grain table {t} entry {i}", at + i * 4L, $"COWD grain table {t} entry {i} {problem}", "entry");
                else
                    allocation.Add(e, g);
            }
        }
        allocation.ReportOverlaps(findings, x.GrainSectors, s => (long)s * Sector.Size, "sector");
    }

    public static void SeSparse(SeSparseExtent x, FindingList findings)
    {
        string file = x.FilePath!;
        var table = new ulong[SeSparseHeaderLayout.GtEntries];
        var allocation = new Allocation(file);
        for (long t = 0; t < x.GrainTableCount; t++)
        {
            if (x.GrainTablePoolIndex(t) is null) continue;
            long at = x.TableOffset(t);
            x.ReadTableEntries(t, table);
            for (int i = 0; i < table.Length; i++)
            {
                ulong e = table[i];
                if (e == 0) continue;
                long g = t * table.Length + i;
                if (x.EntryProblem(e, g) is { } problem)
                    findings.Problem(file, $"grain table {t} entry {i}", at + i * 8L, $"SESparse grain table {t} entry {i} {problem}", "entry");
                else if (SeSparseExtent.EntryType(e) == 3)
                    allocation.Add(SeSparseExtent.ClusterIndex(e), g);
            }
        }
        allocation.ReportOverlaps(findings, 1, x.ClusterOffset, "grain-pool cluster");
    }
}
