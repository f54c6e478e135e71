using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// Reader of one hosted sparse extent: monolithicSparse, one file of a twoGbMaxExtentSparse disk,
/// or a streamOptimized file (qemu's layout or VMware's GD_AT_END + footer layout), format doc §2–3.
/// The grain directory is loaded and checked at open; grain tables are read and checked on demand.
/// Memory: 4 bytes per grain table (the GD) plus one cached table and a few decompressed grains.
/// Thread-safe: all reads are positional; caches are swapped atomically or locked.
/// </summary>
public sealed class HostedSparseExtent : IExtent
{
    private readonly long _fileLength;
    private readonly uint[] _gd;
    private readonly int _gtBytes;
    private readonly long _grainBytes;
    private readonly bool _ownsHandle;
    private CachedTable? _lastTable;
    private readonly DecompressedGrainCache? _grainCache;

    private sealed record CachedTable(long Index, uint[] Entries);

    /// <summary>Opens <paramref name="path"/> (or reuses <paramref name="handle"/>) as a sparse extent of <paramref name="expectedSectors"/> sectors (null: the header's capacity).</summary>
    public HostedSparseExtent(string path, long? expectedSectors = null, SafeFileHandle? handle = null)
    {
        FilePath = path;
        _ownsHandle = handle is null;
        Handle = handle ?? FileOpening.OpenReadOnly(path);
        try
        {
            _fileLength = RandomAccess.GetLength(Handle);
            Span<byte> sector = stackalloc byte[512];
            if (_fileLength < 512)
                throw new CorruptMetadataException(path, $"file is {_fileLength} bytes, too short for a sparse header");
            FileOpening.ReadExactly(Handle, sector, 0, path);
            var header = SparseExtentHeader.Parse(sector, path);
            if (header.GdOffset == SparseHeaderLayout.GdAtEnd)
                header = ReadFooter(header);
            Header = header;
            if (header.GdOffset == 0)
                throw new CorruptMetadataException(path, "gdOffset is 0: the grain directory location is missing");
            if (expectedSectors is long want && (ulong)want != header.Capacity)
                throw new CorruptMetadataException(path, $"header capacity {header.Capacity} sectors differs from the descriptor's extent size {want}");
            Sectors = (long)header.Capacity;
            GrainSectors = (long)header.GrainSize;
            _grainBytes = GrainSectors * 512;
            _gtBytes = checked((int)header.NumGtesPerGt * 4);
            _gd = LoadGrainDirectory(header, out var warning);
            Warning = warning;
            if (header.IsCompressed) _grainCache = new DecompressedGrainCache(8);
        }
        catch
        {
            if (_ownsHandle) Handle.Dispose();
            throw;
        }
    }

    public string? FilePath { get; }
    public SafeFileHandle? Handle { get; }
    public long Sectors { get; }
    public long GrainSectors { get; }
    public SparseExtentHeader Header { get; }

    /// <summary>A repair the reader made silently (e.g. used the redundant GD), for `info`; null if none.</summary>
    public string? Warning { get; }

    public bool IsCompressed => Header.IsCompressed;

    /// <summary>Number of grain tables (GD entries).</summary>
    public long GrainTableCount => _gd.Length;

    /// <summary>The GD entry (sector of the grain table, 0 = none) for grain table <paramref name="index"/>.</summary>
    public uint GrainDirectoryEntry(long index) => _gd[index];

    // ---- open-time checks ------------------------------------------------------------------

    /// <summary>VMware's layout: the real header is the footer at EOF−1024 (format doc §3.2 reader rule).</summary>
    private SparseExtentHeader ReadFooter(SparseExtentHeader header)
    {
        if (!header.IsCompressed)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but the file is not streamOptimized");
        if (_fileLength < 3 * 512 || _fileLength % 512 != 0)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but the file has no footer (length is not whole sectors)");
        Span<byte> tail = stackalloc byte[1536];
        FileOpening.ReadExactly(Handle!, tail, _fileLength - 1536, FilePath!);
        var footerMarker = StreamMarker.Parse(tail);
        var eos = StreamMarker.Parse(tail[1024..]);
        if (footerMarker.Size != 0 || footerMarker.Type != StreamMarker.TypeFooter)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but there is no footer marker at EOF−1536");
        if (eos.Value != 0 || eos.Size != 0 || eos.Type != StreamMarker.TypeEos)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but there is no end-of-stream marker at EOF−512");
        var footer = SparseExtentHeader.Parse(tail.Slice(512, 512), FilePath!);
        if (footer.GdOffset == SparseHeaderLayout.GdAtEnd)
            throw new CorruptMetadataException(FilePath!, "footer's gdOffset is GD_AT_END too");
        return footer;
    }

    private uint[] LoadGrainDirectory(SparseExtentHeader h, out string? warning)
    {
        warning = null;
        ulong count = h.GrainTableCount;
        string? primaryProblem = CheckDirectoryPlacement(h.GdOffset, count, "grain directory");
        uint[]? gd = null;
        if (primaryProblem is null)
        {
            gd = ReadDirectory(h.GdOffset, (int)count);
            primaryProblem = CheckDirectoryEntries(gd, "grain directory");
        }
        if (primaryProblem is null) return gd!;

        if (h.HasRedundantTables && h.RgdOffset != 0 && CheckDirectoryPlacement(h.RgdOffset, count, "redundant grain directory") is null)
        {
            var rgd = ReadDirectory(h.RgdOffset, (int)count);
            if (CheckDirectoryEntries(rgd, "redundant grain directory") is null)
            {
                // format doc §2.6 / §10.2 item 4: primary invalid, redundant valid → use it and say so.
                warning = $"primary {primaryProblem}; using the redundant grain directory";
                return rgd;
            }
        }
        throw new CorruptMetadataException(FilePath!, primaryProblem);
    }

    private string? CheckDirectoryPlacement(ulong offsetSectors, ulong count, string what)
    {
        ulong bytes = count * 4;
        if (offsetSectors == 0 || offsetSectors > (ulong)_fileLength / 512 || offsetSectors * 512 + bytes > (ulong)_fileLength)
            return $"{what} at sector {offsetSectors} with {count} entries lies past the end of the {_fileLength}-byte file";
        return null;
    }

    private uint[] ReadDirectory(ulong offsetSectors, int count)
    {
        var gd = new uint[count];
        FileOpening.ReadExactly(Handle!, System.Runtime.InteropServices.MemoryMarshal.AsBytes(gd.AsSpan()), (long)offsetSectors * 512, FilePath!);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < gd.Length; i++) gd[i] = BinaryPrimitives.ReverseEndianness(gd[i]);
        return gd;
    }

    private string? CheckDirectoryEntries(uint[] gd, string what)
    {
        for (int i = 0; i < gd.Length; i++)
        {
            uint e = gd[i];
            if (e == 0) continue; // §2.5: no grain table → every grain unallocated
            if ((long)e * 512 + _gtBytes > _fileLength)
                return $"{what} entry {i} points at sector {e}, past the end of the file";
            bool inDescriptor = Header.DescriptorOffset != 0 && e >= Header.DescriptorOffset && e < Header.DescriptorOffset + Header.DescriptorSize;
            if (inDescriptor)
                return $"{what} entry {i} points at sector {e}, inside the embedded descriptor";
        }
        return null;
    }

    // ---- grain tables ----------------------------------------------------------------------

    /// <summary>Reads and checks grain table <paramref name="index"/>; null when its GD entry is 0.</summary>
    public uint[]? ReadGrainTable(long index)
    {
        var cached = _lastTable;
        if (cached is not null && cached.Index == index) return cached.Entries;
        uint gde = _gd[index];
        if (gde == 0) return null;
        var table = new uint[Header.NumGtesPerGt];
        LoadGrainTable(index, gde, table);
        _lastTable = new CachedTable(index, table);
        return table;
    }

    /// <summary>Reads and checks grain table <paramref name="index"/> (GD entry <paramref name="gde"/>) into <paramref name="table"/>.</summary>
    private void LoadGrainTable(long index, uint gde, uint[] table)
    {
        FileOpening.ReadExactly(Handle!, System.Runtime.InteropServices.MemoryMarshal.AsBytes(table.AsSpan()), (long)gde * 512, FilePath!);
        CheckGrainTable(index, table);
    }

    /// <summary>Hazards 1–3 of format doc §10.2 for one table: past EOF, inside metadata, GTE 1 without the flag, overlaps.</summary>
    private void CheckGrainTable(long index, uint[] table)
    {
        long firstGrain = index * table.Length;
        int allocated = 0;
        for (int i = 0; i < table.Length; i++)
        {
            uint e = table[i];
            if (e == 0) continue;
            long grainStart = (firstGrain + i) * GrainSectors;
            if (grainStart >= Sectors)
                throw new CorruptMetadataException(FilePath!, $"grain table {index} entry {i} is set ({e}) but lies past the capacity");
            if (e == 1)
            {
                if (!Header.AllowsZeroedGrains)
                    throw new CorruptMetadataException(FilePath!, $"grain table {index} entry {i} is 1 but the zeroed-grain flag is not set");
                continue;
            }
            if ((ulong)e < Header.OverHead)
                throw new CorruptMetadataException(FilePath!, $"grain table {index} entry {i} points at sector {e}, inside the metadata (overHead {Header.OverHead})");
            long need = IsCompressed ? StreamMarker.GrainHeaderBytes : Math.Min(GrainSectors, Sectors - grainStart) * 512;
            if ((long)e * 512 + need > _fileLength)
                throw new CorruptMetadataException(FilePath!, $"grain table {index} entry {i} points at sector {e}, past the end of the {_fileLength}-byte file");
            allocated++;
        }
        if (allocated > 1) CheckNoOverlap(index, table, allocated);
    }

    private void CheckNoOverlap(long index, uint[] table, int allocated)
    {
        uint[] sorted = ArrayPool<uint>.Shared.Rent(allocated);
        try
        {
            int n = 0;
            foreach (uint e in table) if (e > 1) sorted[n++] = e;
            Array.Sort(sorted, 0, n);
            long span = IsCompressed ? 1 : GrainSectors;
            for (int i = 1; i < n; i++)
                if (sorted[i] - (long)sorted[i - 1] < span)
                    throw new CorruptMetadataException(FilePath!, $"grain table {index}: two grains overlap at sector {sorted[i]}");
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(sorted);
        }
    }

    // ---- mapping -----------------------------------------------------------------------------

    public void Map(long start, long count, List<ExtentPiece> output)
    {
        long end = start + count;
        long pos = start;
        long gtCoverage = (long)Header.GtCoverage;
        while (pos < end)
        {
            long gtIndex = pos / gtCoverage;
            long gtEnd = Math.Min(end, (gtIndex + 1) * gtCoverage);
            uint gde = _gd[gtIndex];
            if (gde == 0)
            {
                Append(output, new ExtentPiece(pos, gtEnd - pos, PieceKind.Unallocated));
                pos = gtEnd;
                continue;
            }
            // Mapping reads each table once per region build: a pooled buffer instead of a new
            // array per table keeps a cold pass over a deep chain from allocating megabytes.
            var cached = _lastTable;
            if (cached is not null && cached.Index == gtIndex)
            {
                pos = MapTable(cached.Entries, gtIndex, pos, gtEnd, output);
                continue;
            }
            int entries = (int)Header.NumGtesPerGt;
            uint[] rented = ArrayPool<uint>.Shared.Rent(entries);
            // Rent may hand out a longer array; the table logic needs its exact length.
            uint[] table = rented.Length == entries ? rented : new uint[entries];
            try
            {
                LoadGrainTable(gtIndex, gde, table);
                pos = MapTable(table, gtIndex, pos, gtEnd, output);
            }
            finally
            {
                ArrayPool<uint>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Appends the pieces of [pos, gtEnd) described by grain table <paramref name="gtIndex"/>; returns gtEnd.</summary>
    private long MapTable(uint[] table, long gtIndex, long pos, long gtEnd, List<ExtentPiece> output)
    {
        long grainSectors = GrainSectors;
        bool compressed = IsCompressed;
        long firstGrain = gtIndex * table.Length;
        int lastIndex = (int)((gtEnd - 1) / grainSectors - firstGrain);
        while (pos < gtEnd)
        {
            long grain = pos / grainSectors;
            int i = (int)(grain - firstGrain);
            long grainStart = grain * grainSectors;
            uint e = table[i];
            // Take the following grains that resolve the same way in one step (what Append would
            // merge anyway): runs of 0 or 1 entries (vectorised scan), or file-contiguous data grains.
            int last = i;
            if (e <= 1)
            {
                int k = table.AsSpan(i + 1, lastIndex - i).IndexOfAnyExcept(e);
                last = k < 0 ? lastIndex : i + k;
            }
            else if (!compressed)
            {
                while (last < lastIndex && table[last + 1] == (long)table[last] + grainSectors) last++;
            }
            long pieceEnd = Math.Min(gtEnd, (firstGrain + last + 1) * grainSectors);
            ExtentPiece piece = e switch
            {
                0 => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Unallocated),
                1 => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Zero),
                _ when compressed => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Compressed, (long)e * 512, grainStart),
                _ => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Data, (long)e * 512 + (pos - grainStart) * 512),
            };
            Append(output, piece);
            pos = pieceEnd;
        }
        return pos;
    }

    /// <summary>Appends, merging with the previous piece when they continue each other.</summary>
    private static void Append(List<ExtentPiece> output, ExtentPiece piece)
    {
        if (output.Count > 0)
        {
            var last = output[^1];
            if (last.Kind == piece.Kind && last.Start + last.Count == piece.Start && piece.Kind != PieceKind.Compressed &&
                (piece.Kind != PieceKind.Data || last.FileOffset + last.Count * 512 == piece.FileOffset))
            {
                output[^1] = last with { Count = last.Count + piece.Count };
                return;
            }
        }
        output.Add(piece);
    }

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    // ---- compressed grains (format doc §3.1) ---------------------------------------------------

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset)
    {
        byte[] grain = _grainCache!.Get(markerOffset) ?? Decompress(markerOffset, grainStart);
        grain.AsSpan((int)inGrainOffset, buffer.Length).CopyTo(buffer);
    }

    private byte[] Decompress(long markerOffset, long grainStart)
    {
        Span<byte> head = stackalloc byte[StreamMarker.GrainHeaderBytes];
        FileOpening.ReadExactly(Handle!, head, markerOffset, FilePath!);
        var marker = StreamMarker.Parse(head);
        long sector = markerOffset / 512;
        if (marker.Size == 0)
            throw new CorruptMetadataException(FilePath!, $"grain table entry points at sector {sector}, a metadata marker, not a grain");
        if (marker.Value != (ulong)grainStart)
            throw new CorruptMetadataException(FilePath!, $"grain marker at sector {sector} is for LBA {marker.Value}, expected {grainStart}");
        // §3.1: compressed size can exceed the grain; bound it so a hostile size cannot allocate GiBs.
        long maxCompressed = 2 * _grainBytes + 4096;
        if (marker.Size > maxCompressed || markerOffset + StreamMarker.GrainHeaderBytes + marker.Size > _fileLength)
            throw new CorruptMetadataException(FilePath!, $"grain marker at sector {sector} claims {marker.Size} compressed bytes (past EOF or over {maxCompressed})");
        byte[] compressed = ArrayPool<byte>.Shared.Rent((int)marker.Size);
        try
        {
            FileOpening.ReadExactly(Handle!, compressed.AsSpan(0, (int)marker.Size), markerOffset + StreamMarker.GrainHeaderBytes, FilePath!);
            var grain = new byte[_grainBytes];
            int total = 0;
            try
            {
                using var zlib = new ZLibStream(new MemoryStream(compressed, 0, (int)marker.Size), CompressionMode.Decompress);
                int n;
                while (total < grain.Length && (n = zlib.Read(grain, total, grain.Length - total)) > 0) total += n;
                if (total == grain.Length && zlib.ReadByte() >= 0)
                    throw new CorruptMetadataException(FilePath!, $"grain at sector {sector} decompresses to more than {_grainBytes} bytes");
            }
            catch (InvalidDataException e)
            {
                throw new CorruptMetadataException(FilePath!, $"grain at sector {sector} is not valid zlib data ({e.Message})");
            }
            long expected = Math.Min(_grainBytes, (Sectors - grainStart) * 512);
            if (total < expected)
                throw new CorruptMetadataException(FilePath!, $"grain at sector {sector} decompresses to {total} bytes, expected {expected}");
            _grainCache!.Put(markerOffset, grain);
            return grain;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    public void Dispose()
    {
        if (_ownsHandle) Handle!.Dispose();
    }
}
