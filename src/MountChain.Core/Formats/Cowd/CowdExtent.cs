using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.Cowd;

/// <summary>
/// Reader of an ESXi vmfsSparse delta (COWD, `-delta.vmdk`), format doc §4: a 2048-byte header, a
/// grain directory of u32 sector numbers, grain tables of 4096 u32 entries (0 = parent), grains
/// of grainSize sectors (1 on ESXi: 512-byte grains). Read-only.
/// Memory: 4 bytes per GD entry (≤ 4 MiB for the largest 2 TiB disk) plus the engine's one cached 16 KiB table.
/// Tables are read, cached and mapped by the shared grain-table engine (Formats/Grains).
/// </summary>
internal sealed class CowdExtent : IExtent
{
    private readonly long _fileLength;
    private readonly uint[] _gd;
    /// <summary>GD entries sorted, to tell whether a grain lands on a grain table (§10.2 item 2).</summary>
    private readonly uint[] _tableSectors;
    private readonly GrainTableReader<uint> _tables;

    public CowdExtent(string path, long? expectedSectors = null)
    {
        FilePath = path;
        Handle = FileOpening.OpenReadOnly(path);
        try
        {
            _fileLength = RandomAccess.GetLength(Handle);
            if (_fileLength < CowdHeaderLayout.Size)
                throw new CorruptMetadataException(path, $"COWD file is {_fileLength} bytes, too short for its 2048-byte header");
            var head = new byte[CowdHeaderLayout.Size];
            FileOpening.ReadExactly(Handle, head, 0, path);
            Header = CowdHeader.Parse(head, path);
            if (expectedSectors is long want && want != Header.NumSectors)
                throw new CorruptMetadataException(path, $"COWD header numSectors {Header.NumSectors} differs from the descriptor's extent size {want}");
            Sectors = Header.NumSectors;
            GrainSectors = Header.GrainSize;
            _gd = LoadDirectory();
            _tableSectors = _gd.Where(e => e != 0).Order().ToArray();
            CheckTablesDoNotOverlap();
            _tables = new GrainTableReader<uint>(new TableFormat(this), ReadData);
            if (Header.UncleanShutdown)
                Warning = "COWD uncleanShutdown is set: ESXi did not close the delta cleanly; tables were validated while reading (§10.2 item 15)";
        }
        catch
        {
            Handle.Dispose();
            throw;
        }
    }

    public string? FilePath { get; }
    public SafeFileHandle? Handle { get; }
    public long Sectors { get; }
    public long GrainSectors { get; }
    public CowdHeader Header { get; }
    public long FileLength => _fileLength;

    /// <summary>Something the reader could not vouch for (for `info`/`check`), or null.</summary>
    public string? Warning { get; }

    public long GrainTableCount => _gd.Length;

    /// <summary>GD entry <paramref name="index"/>: sector of that grain table, 0 = none.</summary>
    public uint GrainDirectoryEntry(long index) => _gd[index];

    private uint[] LoadDirectory()
    {
        long at = (long)Header.GdOffset * Sector.Size, bytes = (long)Header.NumGdEntries * sizeof(uint);
        if (at + bytes > _fileLength)
            throw new CorruptMetadataException(FilePath!, $"COWD grain directory (gdOffset {Header.GdOffset}, {Header.NumGdEntries} entries) lies past the end of the {_fileLength}-byte file");
        var gd = new uint[Header.NumGdEntries];
        TableEntries.Read(ReadData, gd.AsSpan(), at);
        for (int i = 0; i < gd.Length; i++)
        {
            uint e = gd[i];
            if (e == 0) continue; // §4.2: no grain table → the whole range reads the parent
            if (e < Header.MetadataEndSector)
                throw new CorruptMetadataException(FilePath!, $"COWD grain directory entry {i} points at sector {e}, inside the header or the directory (ends at sector {Header.MetadataEndSector})");
            if ((long)e * Sector.Size + CowdHeaderLayout.GtBytes > _fileLength)
                throw new CorruptMetadataException(FilePath!, $"COWD grain directory entry {i} points at sector {e}, past the end of the {_fileLength}-byte file");
        }
        return gd;
    }

    private const int TableSectors = CowdHeaderLayout.GtBytes / Sector.Size;

    private void CheckTablesDoNotOverlap()
    {
        int at = GrainRuns.FirstOverlap<uint>(_tableSectors, TableSectors);
        if (at >= 0)
            throw new CorruptMetadataException(FilePath!, $"COWD grain directory: two grain tables overlap at sector {_tableSectors[at]}");
    }

    /// <summary>This format's half of the grain-table engine: u32 entries that are already grain sectors, 0 = parent (§4.2).</summary>
    private sealed class TableFormat(CowdExtent extent) : IGrainTableFormat<uint>
    {
        public string FilePath => extent.FilePath!;
        public long Sectors => extent.Sectors;
        public long GrainSectors => extent.GrainSectors;
        public int EntriesPerTable => CowdHeaderLayout.GtEntries;
        public bool GrainsCompressed => false;
        public long TableOffset(long table) => (long)extent._gd[table] * Sector.Size;
        public void CheckTable(long table, Span<uint> entries) => extent.CheckTable(table, entries);
    }

    /// <summary>Reads and checks grain table <paramref name="index"/>; null when its GD entry is 0.</summary>
    public uint[]? ReadGrainTable(long index) => _tables.Table(index);

    /// <summary>Hazards 1–3 of format doc §10.2 for one table: past EOF, inside metadata or a table, overlapping grains.</summary>
    private void CheckTable(long index, ReadOnlySpan<uint> table)
    {
        long firstGrain = index * table.Length;
        for (int i = 0; i < table.Length; i++)
        {
            uint e = table[i];
            if (e == 0) continue;
            if (EntryProblem(e, firstGrain + i) is { } problem)
                throw new CorruptMetadataException(FilePath!, $"COWD grain table {index} entry {i} {problem}");
        }
        if (GrainRuns.OverlapInTable(table, GrainSectors) is uint at)
            throw new CorruptMetadataException(FilePath!, $"COWD grain table {index}: two grains overlap at sector {at}");
    }

    /// <summary>
    /// Null when entry <paramref name="e"/> of grain <paramref name="grain"/> is valid, else what is wrong
    /// (§10.2 items 1–2): set past the capacity, inside the header or directory, past the end of the
    /// file, or on a grain table. The one rule of the reader and of `check`.
    /// </summary>
    public string? EntryProblem(uint e, long grain)
    {
        if (e == 0) return null;
        long grainStart = grain * GrainSectors;
        if (grainStart >= Sectors)
            return $"is set ({e}) but lies past the capacity";
        // MetadataEndSector ≥ 4 (the header alone is 4 sectors), so a valid entry is never the marker 1.
        if (e < Header.MetadataEndSector)
            return $"points at sector {e}, inside the header or the directory";
        long grainSectors = Math.Min(GrainSectors, Sectors - grainStart);
        if ((long)e * Sector.Size + grainSectors * Sector.Size > _fileLength)
            return $"points at sector {e}, past the end of the {_fileLength}-byte file";
        if (HitsTable(e, grainSectors) is uint gt)
            return $"points at sector {e}, inside the grain table at sector {gt}";
        return null;
    }

    /// <summary>Grain table <paramref name="index"/> as stored (host order), unchecked: for `check`, which reports every bad entry.</summary>
    internal void ReadTableEntries(long index, uint[] table) => TableEntries.Read<uint>(ReadData, table, (long)_gd[index] * Sector.Size);

    /// <summary>The grain table whose sectors [s, s+TableSectors) meet [sector, sector+count), or null.</summary>
    private uint? HitsTable(uint sector, long count)
    {
        int i = Array.BinarySearch(_tableSectors, sector);
        if (i >= 0) return _tableSectors[i];
        i = ~i; // first table starting after sector
        if (i > 0 && _tableSectors[i - 1] + (long)TableSectors > sector) return _tableSectors[i - 1];
        if (i < _tableSectors.Length && _tableSectors[i] < sector + count) return _tableSectors[i];
        return null;
    }

    /// <summary>§4.2 translation (gdIndex = s / (4096·g), gtIndex = (s % (4096·g)) / g) through the shared engine.</summary>
    public void Map(long start, long count, List<ExtentPiece> output) => _tables.Map(start, count, output);

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset) =>
        throw new InvalidOperationException("COWD extents hold no compressed grains");

    public void Dispose() => Handle!.Dispose();
}
