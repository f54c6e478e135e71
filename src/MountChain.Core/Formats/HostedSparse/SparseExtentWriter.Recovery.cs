using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

// Open-time recovery: load both table copies, keep per entry the valid one, repair on disk.
internal sealed partial class SparseExtentWriter
{
    /// <summary>Reads a copy of every grain table of <paramref name="directory"/> into one array (0 where the GD entry is 0 or unusable).</summary>
    private uint[] ReadTables(uint[] directory)
    {
        var all = new uint[_gte.Length];
        TableEntries.ReadTables<uint>(_file.Read, directory.Length, _gtesPerGt,
            t => directory[t] == 0 || _rules.DirectoryEntryProblem(directory[t]) is not null ? -1 : (long)directory[t] * Sector.Size,
            all);
        return all;
    }

    /// <summary>
    /// Loads the tables; with a redundant copy, keeps per entry the one that is valid (format doc
    /// §2.8 recovery, the rule of <see cref="HostedTableRules.EntryProblem"/>): inside the file, past
    /// overHead, not on metadata, not shared. After an unclean shutdown also drops the orphan tail
    /// and rewrites both copies.
    /// </summary>
    private void LoadAndReconcileTables()
    {
        long fileLength = _file.Length;
        bool unclean = _header.UncleanShutdown;
        _rules.NoteLateTables(_gd, _rgd);
        uint[] primary = ReadTables(_gd);
        uint[]? redundant = _rgd is null ? null : ReadTables(_rgd);
        long overHead = (long)_header.OverHead;
        int cleared = 0, disagreed = 0, duplicates = 0;
        var changedTables = new HashSet<int>();

        bool Valid(uint e, long grain) => _rules.EntryProblem(e, grain) is null;

        long grains = GrainCount;
        for (long g = 0; g < _gte.Length; g++)
        {
            uint p = primary[g];
            uint r = redundant is null ? p : redundant[g];
            int table = (int)(g / _gtesPerGt);
            if (g >= grains)
            {
                // §2.4: entries past the capacity must be 0.
                if (p != 0 || r != 0) { cleared++; changedTables.Add(table); }
                continue;
            }
            if (redundant is not null && _rgd![table] == 0 && _gd[table] != 0) r = p;
            if (_gd[table] == 0 && redundant is not null && _rgd![table] != 0) p = r;
            uint chosen;
            if (p == r) chosen = Valid(p, g) ? p : 0;
            else
            {
                disagreed++;
                // The primary copy is written first, so when both are valid it is the newer one.
                chosen = p != 0 && Valid(p, g) ? p : r != 0 && Valid(r, g) ? r : 0;
                changedTables.Add(table);
            }
            if (chosen == 0 && (p != 0 || r != 0) && p == r) cleared++;
            if (chosen != p || chosen != r) changedTables.Add(table);
            _gte[g] = chosen;
        }

        // §2.10: entries flushed through the intent journal whose tables did not follow yet.
        if (unclean && _journal is { Nonce: not 0 }) ReplayIntents(changedTables);

        // §10.2 item 3: two entries sharing file sectors; keep the first, clear the rest.
        var allocated = new List<(uint Sector, long Grain)>();
        for (long g = 0; g < _gte.Length; g++) if (_gte[g] > 1) allocated.Add((_gte[g], g));
        allocated.Sort((a, b) => a.Sector.CompareTo(b.Sector));
        long maxEnd = 0;
        for (int i = 0; i < allocated.Count; i++)
        {
            if (i > 0 && allocated[i].Sector < (long)allocated[i - 1].Sector + GrainSectors && _gte[allocated[i - 1].Grain] != 0)
            {
                _gte[allocated[i].Grain] = 0;
                changedTables.Add((int)(allocated[i].Grain / _gtesPerGt));
                duplicates++;
                continue;
            }
            maxEnd = Math.Max(maxEnd, (long)allocated[i].Sector + GrainSectors);
        }

        long metadataEnd = overHead;
        foreach (var (_, end) in _rules.LateTables) metadataEnd = Math.Max(metadataEnd, end);
        long next = Math.Max(maxEnd, metadataEnd);
        if (!unclean) next = Math.Max(next, Sector.CeilingOf(fileLength));
        next = (next + GrainSectors - 1) / GrainSectors * GrainSectors;
        _next = next;

        if (disagreed > 0) _repairs.Add($"{disagreed} grain-table entries differed between the primary and redundant tables; kept the valid (newer) one");
        if (cleared > 0) _repairs.Add($"{cleared} grain-table entries pointed outside the file, into metadata or past the capacity; cleared");
        if (duplicates > 0) _repairs.Add($"{duplicates} grain-table entries shared file sectors with another grain; cleared");
        if (!unclean && changedTables.Count == 0) return;

        // Repair on disk: tables first (both copies), barrier, then drop the orphan tail, then mark clean.
        foreach (int t in changedTables) _gtDirty[t] = true;
        _dirtyList.AddRange(changedTables.Order());
        if (unclean) _repairs.Insert(0, "uncleanShutdown was set: the log was not closed cleanly; tables reconciled");
        _sessionStarted = true; // the header is (or will be) marked unclean while we repair
        if (!unclean) WriteHeader(unclean: true);
        FlushMetadataLocked();
        if (unclean && fileLength > next * Sector.Size)
        {
            _repairs.Add($"dropped {fileLength - next * Sector.Size} bytes of orphan grain data at the tail (written but never referenced)");
            _file.SetLength(next * Sector.Size);
        }
        WriteHeader(unclean: false);
        _journal?.EndSession(); // the tables now hold every record's entries (synced above)
        _file.Sync();
        _sessionStarted = false;
    }

    /// <summary>
    /// Applies the entries of the journal's records (format doc §2.10): every record older than the
    /// newest valid one belongs to a flush that completed (the next record is written only after
    /// its barrier), so its grains are on disk; a grain of the newest record counts only when its
    /// bytes match the CRC taken at that flush (else its data did not land, or landed torn, and the
    /// chain below keeps showing through). An entry the tables already hold changes nothing.
    /// </summary>
    private void ReplayIntents(HashSet<int> changedTables)
    {
        var records = _journal!.ReadRecords();
        if (records.Count == 0) return;
        ulong newest = records[^1].Sequence;
        int applied = 0, notLanded = 0, refused = 0;
        byte[] bytes = new byte[GrainBytes];
        foreach (var record in records)
        {
            foreach (var e in record.Entries)
            {
                long g = e.Grain;
                if (g >= GrainCount || e.Sector <= 1 || _rules.EntryProblem(e.Sector, g) is not null) { refused++; continue; }
                uint current = _gte[g];
                if (current == e.Sector) continue;
                if (current > 1) { refused++; continue; } // the tables name other data: they win
                if (record.Sequence == newest)
                {
                    _file.Read(bytes, (long)e.Sector * Sector.Size);
                    if (IntentJournalLayout.Finish(IntentJournalLayout.Crc32C(bytes)) != e.DataCrc) { notLanded++; continue; }
                }
                _gte[g] = e.Sector;
                changedTables.Add((int)(g / _gtesPerGt));
                applied++;
            }
        }
        if (applied > 0) _repairs.Add($"{applied} grain-table entries restored from the intent journal (flushed, tables not yet written)");
        if (notLanded > 0) _repairs.Add($"{notLanded} grains of an unfinished flush had not fully reached the disk (CRC mismatch); left unreferenced");
        if (refused > 0) _repairs.Add($"{refused} intent journal entries were invalid or contradicted the tables; ignored");
    }
}
