using MountChain.Core.Errors;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// The geometry of one hosted sparse extent's grain directory and tables, and the rules their
/// entries must keep (format doc §2.4–2.6, §10.2 items 1–5). One rule for both sides: the reader
/// refuses an entry that breaks it, the writer's recovery clears it.
/// </summary>
internal sealed class HostedTableRules
{
    private readonly SparseExtentHeader _header;
    private readonly string _path;
    /// <summary>Grain tables placed after overHead (by a writer, §2.8 foreign files), sorted by start sector.</summary>
    private (long Start, long End)[] _lateTables = [];

    public HostedTableRules(SparseExtentHeader header, long fileLength, string path)
    {
        _header = header;
        _path = path;
        FileLength = fileLength;
        EntriesPerTable = (int)header.NumGtesPerGt;
        TableBytes = EntriesPerTable * sizeof(uint);
        TableSectors = (int)Sector.CeilingOf(TableBytes);
        GrainSectors = (long)header.GrainSize;
        CapacitySectors = (long)header.Capacity;
        TableCount = (long)header.GrainTableCount;
        // Bounded before anything is allocated: the directory is held in memory (4 bytes an entry).
        if (TableCount > MaxDirectoryEntries)
            throw new CorruptMetadataException(path, $"the grain directory would need {TableCount} entries (capacity {header.Capacity} sectors, grainSize {header.GrainSize}, numGTEsPerGT {header.NumGtesPerGt}): more than the {MaxDirectoryEntries} a hosted sparse extent may have (qemu: \"L1 size too big\")");
    }

    /// <summary>
    /// Most grain directory entries we load (format doc §10.1): 4 Mi, 16 MiB of directory held in
    /// memory. The standard geometry (64 KiB grains, 512 entries a table) then reaches 128 TiB, 16×
    /// the largest virtual disk VMware makes; qemu's cap (32 Mi, 128 MiB) let one hostile header cost
    /// 128 MiB per open, over the 64 MiB an input may cost (issue 15; Fuzz/Crashes/sparse).
    /// </summary>
    public const long MaxDirectoryEntries = 4L << 20;

    public long FileLength { get; }
    public int EntriesPerTable { get; }
    public int TableBytes { get; }
    public int TableSectors { get; }
    public long GrainSectors { get; }
    public long CapacitySectors { get; }
    /// <summary>Grain tables = grain directory entries (§2.4 "Sizes").</summary>
    public long TableCount { get; }
    public long GrainCount => (CapacitySectors + GrainSectors - 1) / GrainSectors;
    public IReadOnlyList<(long Start, long End)> LateTables => _lateTables;

    // ---- directory --------------------------------------------------------------------------

    /// <summary>Null when a directory of <see cref="TableCount"/> entries at <paramref name="sector"/> lies inside the file.</summary>
    /// <remarks>Unsigned: a 64-bit field read as a huge value must not wrap to a negative offset.</remarks>
    public string? DirectoryPlacementProblem(ulong sector, string field, string what)
    {
        ulong bytes = (ulong)TableCount * sizeof(uint);
        ulong length = (ulong)FileLength;
        if (sector == 0 || sector > length / Sector.Size || sector * Sector.Size + bytes > length)
            return $"{what} ({field} {sector}) with {TableCount} entries lies past the end of the {FileLength}-byte file";
        return null;
    }

    /// <summary>Reads a directory whose placement was checked.</summary>
    public uint[] ReadDirectory(ReadAt read, ulong sector)
    {
        var directory = new uint[TableCount];
        TableEntries.Read(read, directory.AsSpan(), (long)sector * Sector.Size);
        return directory;
    }

    /// <summary>Null when directory entry <paramref name="e"/> (a grain table's sector, 0 = none) can hold a table.</summary>
    public string? DirectoryEntryProblem(uint e)
    {
        if (e == 0) return null; // §2.5: no grain table → every grain it covers is unallocated
        if ((long)e * Sector.Size + TableBytes > FileLength)
            return $"points at sector {e}, past the end of the file";
        if (_header.DescriptorOffset != 0 && e >= _header.DescriptorOffset && e < _header.DescriptorOffset + _header.DescriptorSize)
            return $"points at sector {e}, inside the embedded descriptor";
        return null;
    }

    /// <summary>The first bad entry of <paramref name="directory"/> as a message, or null.</summary>
    public string? DirectoryProblem(uint[] directory, string what)
    {
        for (int i = 0; i < directory.Length; i++)
            if (DirectoryEntryProblem(directory[i]) is { } problem)
                return $"{what} entry {i} {problem}";
        return null;
    }

    /// <summary>Records where the tables of <paramref name="directories"/> lie past overHead, so no grain may sit on them.</summary>
    public void NoteLateTables(params uint[]?[] directories)
    {
        var list = new List<(long, long)>();
        foreach (var directory in directories)
        {
            if (directory is null) continue;
            foreach (uint e in directory)
                if (e != 0 && e >= _header.OverHead) list.Add((e, (long)e + TableSectors));
        }
        list.Sort();
        _lateTables = [.. list];
    }

    // ---- grain-table entries --------------------------------------------------------------------

    /// <summary>File sectors one grain occupies for the overlap rules: a compressed grain only its marker's first sector.</summary>
    public long GrainSpan => _header.IsCompressed ? 1 : GrainSectors;

    /// <summary>
    /// Null when entry <paramref name="e"/> of grain <paramref name="grain"/> is valid, else what is
    /// wrong (hazards 1–2 of §10.2): set past the capacity, 1 without the zeroed-grain flag, inside
    /// the metadata, past the end of the file, or on a grain table.
    /// </summary>
    public string? EntryProblem(uint e, long grain)
    {
        if (e == 0) return null;
        long grainStart = grain * GrainSectors;
        if (grainStart >= CapacitySectors)
            return $"is set ({e}) but lies past the capacity";
        if (e == 1)
            return _header.AllowsZeroedGrains ? null : "is 1 but the zeroed-grain flag is not set";
        if (e < _header.OverHead)
            return $"points at sector {e}, inside the metadata (overHead {_header.OverHead})";
        long need = _header.IsCompressed ? StreamMarker.GrainHeaderBytes : Math.Min(GrainSectors, CapacitySectors - grainStart) * Sector.Size;
        if ((long)e * Sector.Size + need > FileLength)
            return $"points at sector {e}, past the end of the {FileLength}-byte file";
        if (OnLateTable(e) is long table)
            return $"points at sector {e}, onto the grain table at sector {table}";
        return null;
    }

    private long? OnLateTable(long e)
    {
        if (_lateTables.Length == 0) return null;
        long end = e + GrainSpan;
        // The last table starting before the grain ends is the only candidate (tables do not overlap).
        int lo = 0, hi = _lateTables.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (_lateTables[mid].Start < end) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found >= 0 && _lateTables[found].End > e ? _lateTables[found].Start : null;
    }

    /// <summary>Reader side: refuses the first bad entry of table <paramref name="index"/>, and grains of the table that overlap (§10.2 item 3).</summary>
    public void RefuseBadEntries(long index, ReadOnlySpan<uint> table)
    {
        long firstGrain = index * table.Length;
        for (int i = 0; i < table.Length; i++)
        {
            uint e = table[i];
            if (e == 0) continue;
            if (EntryProblem(e, firstGrain + i) is { } problem)
                throw new CorruptMetadataException(_path, $"grain table {index} entry {i} {problem}");
        }
        if (GrainRuns.OverlapInTable(table, GrainSpan) is uint at)
            throw new CorruptMetadataException(_path, $"grain table {index}: two grains overlap at sector {at}");
    }
}
