using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// What a read-only open of a crashed redo log adds over its grain tables (format doc §2.10): the
/// entries of flushes that reached the intent journal but not yet the tables. The rule is
/// recovery's (<c>SparseExtentWriter.ReplayIntents</c>), applied in memory only: the file is never
/// written. Every record older than the newest belongs to a completed flush; a grain of the newest
/// record counts only when its bytes match the CRC taken at that flush. An entry applies where the
/// table holds 0 or 1 (the tables, when they name data, win).
/// </summary>
internal sealed class IntentOverlay
{
    /// <summary>Per grain table: (index in the table, sector) pairs to lay over it.</summary>
    private readonly Dictionary<long, List<(int Index, uint Sector)>> _byTable;

    private IntentOverlay(Dictionary<long, List<(int, uint)>> byTable, int count)
    {
        _byTable = byTable;
        Count = count;
    }

    /// <summary>Grains the journal adds (before comparing with the tables).</summary>
    public int Count { get; }

    /// <summary>
    /// The overlay of an extent whose header says <c>uncleanShutdown</c>, or null when it has no
    /// journal, no open session or nothing to add. <paramref name="read"/> reads the file.
    /// </summary>
    public static IntentOverlay? Load(ReadAt read, SparseExtentHeader header, HostedTableRules rules, uint[] gd, uint[]? rgd)
    {
        if (!header.UncleanShutdown || header.IsCompressed) return null;
        long tablesEnd = IntentJournal.TablesEndSector(header, gd, rgd, rules.TableSectors);
        var journal = IntentJournal.FindReadOnly(read, rules.FileLength, tablesEnd, (long)header.OverHead);
        if (journal is null || journal.Nonce == 0) return null;
        var records = journal.ReadRecords();
        if (records.Count == 0) return null;
        ulong newest = records[^1].Sequence;
        var seen = new HashSet<long>();
        var byTable = new Dictionary<long, List<(int, uint)>>();
        int count = 0;
        byte[]? grain = null;
        foreach (var record in records)
        {
            foreach (var e in record.Entries)
            {
                long g = e.Grain;
                if (g >= rules.GrainCount || e.Sector <= 1 || rules.EntryProblem(e.Sector, g) is not null) continue;
                if (!seen.Add(g)) continue; // the oldest record naming a grain wins, as in recovery
                if (record.Sequence == newest)
                {
                    grain ??= new byte[rules.GrainSectors * Sector.Size];
                    read(grain, (long)e.Sector * Sector.Size);
                    if (IntentJournalLayout.Finish(IntentJournalLayout.Crc32C(grain)) != e.DataCrc) continue;
                }
                long table = g / rules.EntriesPerTable;
                if (!byTable.TryGetValue(table, out var list)) byTable[table] = list = [];
                list.Add(((int)(g % rules.EntriesPerTable), e.Sector));
                count++;
            }
        }
        return count == 0 ? null : new IntentOverlay(byTable, count);
    }

    /// <summary>Lays the overlay's entries of table <paramref name="table"/> over <paramref name="entries"/> as just read.</summary>
    public void Apply(long table, Span<uint> entries)
    {
        if (!_byTable.TryGetValue(table, out var list)) return;
        foreach (var (index, sector) in list)
            if (entries[index] <= 1) entries[index] = sector;
    }
}
