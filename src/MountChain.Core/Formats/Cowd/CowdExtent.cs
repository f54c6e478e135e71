using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.Cowd;

/// <summary>
/// Reader of an ESXi vmfsSparse delta (COWD, `-delta.vmdk`), format doc §4: a 2048-byte header, a
/// grain directory of u32 sector numbers, grain tables of 4096 u32 entries (0 = parent), grains
/// of grainSize sectors (1 on ESXi: 512-byte grains). Read-only.
/// Memory: 4 bytes per GD entry (≤ 4 MiB for the largest 2 TiB disk) plus one cached 16 KiB table.
/// Thread-safe: positional reads; the table cache is swapped atomically.
/// </summary>
public sealed class CowdExtent : IExtent
{
    private readonly long _fileLength;
    private readonly uint[] _gd;
    /// <summary>GD entries sorted, to tell whether a grain lands on a grain table (§10.2 item 2).</summary>
    private readonly uint[] _tableSectors;
    private CachedTable? _lastTable;

    private sealed record CachedTable(long Index, uint[] Entries);

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
        long at = (long)Header.GdOffset * 512, bytes = (long)Header.NumGdEntries * 4;
        if (at + bytes > _fileLength)
            throw new CorruptMetadataException(FilePath!, $"COWD grain directory (gdOffset {Header.GdOffset}, {Header.NumGdEntries} entries) lies past the end of the {_fileLength}-byte file");
        var gd = new uint[Header.NumGdEntries];
        FileOpening.ReadExactly(Handle!, MemoryMarshal.AsBytes(gd.AsSpan()), at, FilePath!);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < gd.Length; i++) gd[i] = BinaryPrimitives.ReverseEndianness(gd[i]);
        for (int i = 0; i < gd.Length; i++)
        {
            uint e = gd[i];
            if (e == 0) continue; // §4.2: no grain table → the whole range reads the parent
            if (e < Header.MetadataEndSector)
                throw new CorruptMetadataException(FilePath!, $"COWD grain directory entry {i} points at sector {e}, inside the header or the directory (ends at sector {Header.MetadataEndSector})");
            if ((long)e * 512 + CowdHeaderLayout.GtBytes > _fileLength)
                throw new CorruptMetadataException(FilePath!, $"COWD grain directory entry {i} points at sector {e}, past the end of the {_fileLength}-byte file");
        }
        return gd;
    }

    private void CheckTablesDoNotOverlap()
    {
        const int gtSectors = CowdHeaderLayout.GtBytes / 512;
        for (int i = 1; i < _tableSectors.Length; i++)
            if (_tableSectors[i] - (long)_tableSectors[i - 1] < gtSectors)
                throw new CorruptMetadataException(FilePath!, $"COWD grain directory: two grain tables overlap at sector {_tableSectors[i]}");
    }

    /// <summary>Reads and checks grain table <paramref name="index"/>; null when its GD entry is 0.</summary>
    public uint[]? ReadGrainTable(long index)
    {
        var cached = _lastTable;
        if (cached is not null && cached.Index == index) return cached.Entries;
        if (_gd[index] == 0) return null;
        var table = new uint[CowdHeaderLayout.GtEntries];
        LoadTable(index, table);
        _lastTable = new CachedTable(index, table);
        return table;
    }

    private void LoadTable(long index, uint[] table)
    {
        ReadTableEntries(index, table);
        CheckTable(index, table);
    }

    /// <summary>Grain table <paramref name="index"/> as stored (host order), unchecked: for `check`, which reports every bad entry.</summary>
    internal void ReadTableEntries(long index, uint[] table)
    {
        FileOpening.ReadExactly(Handle!, MemoryMarshal.AsBytes(table.AsSpan()), (long)_gd[index] * 512, FilePath!);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < table.Length; i++) table[i] = BinaryPrimitives.ReverseEndianness(table[i]);
    }

    /// <summary>Hazards 1–3 of format doc §10.2 for one table: past EOF, inside metadata or a table, overlapping grains.</summary>
    private void CheckTable(long index, uint[] table)
    {
        long firstGrain = index * table.Length;
        int allocated = 0;
        for (int i = 0; i < table.Length; i++)
        {
            uint e = table[i];
            if (e == 0) continue;
            if (EntryProblem(e, firstGrain + i) is { } problem)
                throw new CorruptMetadataException(FilePath!, $"COWD grain table {index} entry {i} {problem}");
            allocated++;
        }
        if (allocated > 1) CheckNoOverlap(index, table, allocated);
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
        if (e < Header.MetadataEndSector)
            return $"points at sector {e}, inside the header or the directory";
        long grainSectors = Math.Min(GrainSectors, Sectors - grainStart);
        if ((long)e * 512 + grainSectors * 512 > _fileLength)
            return $"points at sector {e}, past the end of the {_fileLength}-byte file";
        if (HitsTable(e, grainSectors) is uint gt)
            return $"points at sector {e}, inside the grain table at sector {gt}";
        return null;
    }

    /// <summary>The grain table whose 32 sectors [s, s+32) meet [sector, sector+count), or null.</summary>
    private uint? HitsTable(uint sector, long count)
    {
        const int gtSectors = CowdHeaderLayout.GtBytes / 512;
        int i = Array.BinarySearch(_tableSectors, sector);
        if (i >= 0) return _tableSectors[i];
        i = ~i; // first table starting after sector
        if (i > 0 && _tableSectors[i - 1] + (long)gtSectors > sector) return _tableSectors[i - 1];
        if (i < _tableSectors.Length && _tableSectors[i] < sector + count) return _tableSectors[i];
        return null;
    }

    private void CheckNoOverlap(long index, uint[] table, int allocated)
    {
        uint[] sorted = ArrayPool<uint>.Shared.Rent(allocated);
        try
        {
            int n = 0;
            foreach (uint e in table) if (e != 0) sorted[n++] = e;
            Array.Sort(sorted, 0, n);
            for (int i = 1; i < n; i++)
                if (sorted[i] - (long)sorted[i - 1] < GrainSectors)
                    throw new CorruptMetadataException(FilePath!, $"COWD grain table {index}: two grains overlap at sector {sorted[i]}");
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(sorted);
        }
    }

    // ---- mapping (§4.2 translation: gdIndex = s / (4096·g), gtIndex = (s % (4096·g)) / g) ----------

    public void Map(long start, long count, List<ExtentPiece> output)
    {
        long end = start + count, pos = start;
        long coverage = Header.GtCoverage;
        while (pos < end)
        {
            long gtIndex = pos / coverage;
            long gtEnd = Math.Min(end, (gtIndex + 1) * coverage);
            if (_gd[gtIndex] == 0)
            {
                ExtentPieces.Append(output, new ExtentPiece(pos, gtEnd - pos, PieceKind.Unallocated));
                pos = gtEnd;
                continue;
            }
            var cached = _lastTable;
            if (cached is not null && cached.Index == gtIndex)
            {
                pos = MapTable(cached.Entries, gtIndex, pos, gtEnd, output);
                continue;
            }
            uint[] rented = ArrayPool<uint>.Shared.Rent(CowdHeaderLayout.GtEntries);
            uint[] table = rented.Length == CowdHeaderLayout.GtEntries ? rented : new uint[CowdHeaderLayout.GtEntries];
            try
            {
                LoadTable(gtIndex, table);
                pos = MapTable(table, gtIndex, pos, gtEnd, output);
            }
            finally
            {
                ArrayPool<uint>.Shared.Return(rented);
            }
        }
    }

    private long MapTable(uint[] table, long gtIndex, long pos, long gtEnd, List<ExtentPiece> output)
    {
        long g = GrainSectors;
        long firstGrain = gtIndex * table.Length;
        int lastIndex = (int)((gtEnd - 1) / g - firstGrain);
        while (pos < gtEnd)
        {
            long grain = pos / g;
            int i = (int)(grain - firstGrain);
            long grainStart = grain * g;
            uint e = table[i];
            int last = i;
            if (e == 0)
            {
                int k = table.AsSpan(i + 1, lastIndex - i).IndexOfAnyExcept(0u);
                last = k < 0 ? lastIndex : i + k;
            }
            else
            {
                // ESXi allocates grains in write order, so neighbours are often file-contiguous: one run.
                while (last < lastIndex && table[last + 1] == (long)table[last] + g) last++;
            }
            long pieceEnd = Math.Min(gtEnd, (firstGrain + last + 1) * g);
            ExtentPieces.Append(output, e == 0
                ? new ExtentPiece(pos, pieceEnd - pos, PieceKind.Unallocated)
                : new ExtentPiece(pos, pieceEnd - pos, PieceKind.Data, (long)e * 512 + (pos - grainStart) * 512));
            pos = pieceEnd;
        }
        return pos;
    }

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset) =>
        throw new InvalidOperationException("COWD extents hold no compressed grains");

    public void Dispose() => Handle!.Dispose();
}
