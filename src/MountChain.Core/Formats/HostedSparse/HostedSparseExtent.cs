using System.Buffers;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// Reader of one hosted sparse extent: monolithicSparse, one file of a twoGbMaxExtentSparse disk,
/// or a streamOptimized file (qemu's layout or VMware's GD_AT_END + footer layout), format doc §2–3.
/// The grain directory is loaded and checked at open; grain tables are read and checked on demand.
/// Memory: 4 bytes per grain table (the GD) plus one cached table and a few decompressed grains.
/// Thread-safe: all reads are positional; caches are swapped atomically or locked.
/// </summary>
internal sealed class HostedSparseExtent : IExtent
{
    private readonly long _fileLength;
    private readonly uint[] _gd;
    private readonly long _grainBytes;
    private readonly bool _ownsHandle;
    private readonly HostedTableRules _rules;
    private readonly GrainTableReader<uint> _tables;
    private readonly DecompressedGrainCache? _grainCache;
    private readonly IntentOverlay? _overlay;

    /// <summary>
    /// Opens <paramref name="path"/> (or reuses <paramref name="handle"/>, closing it on dispose when
    /// <paramref name="takeHandle"/>) as a sparse extent of <paramref name="expectedSectors"/> sectors (null: the header's capacity).
    /// </summary>
    public HostedSparseExtent(string path, long? expectedSectors = null, SafeFileHandle? handle = null, bool takeHandle = false)
    {
        FilePath = path;
        _ownsHandle = handle is null || takeHandle;
        Handle = handle ?? FileOpening.OpenReadOnly(path);
        try
        {
            _fileLength = RandomAccess.GetLength(Handle);
            Span<byte> sector = stackalloc byte[SparseHeaderLayout.Size];
            if (_fileLength < SparseHeaderLayout.Size)
                throw new CorruptMetadataException(path, $"file is {_fileLength} bytes, too short for a sparse header");
            FileOpening.ReadExactly(Handle, sector, 0, path);
            var header = SparseExtentHeader.Parse(sector, path);
            if (header.GdOffset == SparseHeaderLayout.GdAtEnd)
                header = ReadFooter(header);
            header.CheckPlacement(_fileLength, path);
            Header = header;
            if (header.GdOffset == 0)
                throw new CorruptMetadataException(path, "gdOffset is 0: the grain directory location is missing");
            if (expectedSectors is long want && (ulong)want != header.Capacity)
                throw new CorruptMetadataException(path, $"header capacity {header.Capacity} sectors differs from the descriptor's extent size {want}");
            Sectors = (long)header.Capacity;
            GrainSectors = (long)header.GrainSize;
            _grainBytes = GrainSectors * Sector.Size;
            _rules = new HostedTableRules(header, _fileLength, path);
            _gd = LoadGrainDirectory(header, out var warning);
            _rules.NoteLateTables(_gd);
            // §2.10: a crashed redo log of ours shows its journaled flushes too, read in memory only.
            _overlay = IntentOverlay.Load(ReadData, header, _rules, _gd, RedundantDirectoryIfUnclean(header));
            if (_overlay is not null)
                warning = (warning is null ? "" : warning + "; ")
                    + $"uncleanShutdown is set: {_overlay.Count} flushed grains are read from the intent journal (repair-log writes them into the tables)";
            Warning = warning;
            _tables = new GrainTableReader<uint>(new TableFormat(this), ReadData);
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

    /// <summary>The table rules this reader enforces (for `check`, which applies them to every entry).</summary>
    internal HostedTableRules Rules => _rules;

    public long FileLength => _fileLength;

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
        if (_fileLength < 3 * Sector.Size || _fileLength % Sector.Size != 0)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but the file has no footer (length is not whole sectors)");
        Span<byte> tail = stackalloc byte[3 * Sector.Size];
        FileOpening.ReadExactly(Handle!, tail, _fileLength - tail.Length, FilePath!);
        var footerMarker = StreamMarker.Parse(tail);
        var eos = StreamMarker.Parse(tail[(2 * Sector.Size)..]);
        if (footerMarker.Size != 0 || footerMarker.Type != StreamMarker.TypeFooter)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but there is no footer marker at EOF−1536");
        if (eos.Value != 0 || eos.Size != 0 || eos.Type != StreamMarker.TypeEos)
            throw new CorruptMetadataException(FilePath!, "gdOffset is GD_AT_END but there is no end-of-stream marker at EOF−512");
        var footer = SparseExtentHeader.Parse(tail.Slice(Sector.Size, SparseHeaderLayout.Size), FilePath!);
        if (footer.GdOffset == SparseHeaderLayout.GdAtEnd)
            throw new CorruptMetadataException(FilePath!, "footer's gdOffset is GD_AT_END too");
        return footer;
    }

    private uint[] LoadGrainDirectory(SparseExtentHeader h, out string? warning)
    {
        warning = null;
        string? primaryProblem = _rules.DirectoryPlacementProblem(h.GdOffset, "gdOffset", "grain directory");
        uint[]? gd = null;
        if (primaryProblem is null)
        {
            gd = _rules.ReadDirectory(ReadData, h.GdOffset);
            primaryProblem = _rules.DirectoryProblem(gd, "grain directory");
        }
        if (primaryProblem is null) return gd!;

        if (h.HasRedundantTables && h.RgdOffset != 0 && _rules.DirectoryPlacementProblem(h.RgdOffset, "rgdOffset", "redundant grain directory") is null)
        {
            var rgd = _rules.ReadDirectory(ReadData, h.RgdOffset);
            if (_rules.DirectoryProblem(rgd, "redundant grain directory") is null)
            {
                // format doc §2.6 / §10.2 item 4: primary invalid, redundant valid → use it and say so.
                warning = $"primary {primaryProblem}; using the redundant grain directory";
                return rgd;
            }
        }
        throw new CorruptMetadataException(FilePath!, primaryProblem);
    }

    /// <summary>The redundant directory of a crashed file (where the intent journal starts depends on it); null otherwise or when unusable.</summary>
    private uint[]? RedundantDirectoryIfUnclean(SparseExtentHeader h)
    {
        if (!h.UncleanShutdown || !h.HasRedundantTables || h.RgdOffset == 0) return null;
        if (_rules.DirectoryPlacementProblem(h.RgdOffset, "rgdOffset", "redundant grain directory") is not null) return null;
        var rgd = _rules.ReadDirectory(ReadData, h.RgdOffset);
        return _rules.DirectoryProblem(rgd, "redundant grain directory") is null ? rgd : null;
    }

    /// <summary>This format's half of the grain-table engine: u32 entries that are already normalised sector numbers (§2.5).</summary>
    private sealed class TableFormat(HostedSparseExtent extent) : IGrainTableFormat<uint>
    {
        public string FilePath => extent.FilePath!;
        public long Sectors => extent.Sectors;
        public long GrainSectors => extent.GrainSectors;
        public int EntriesPerTable => extent._rules.EntriesPerTable;
        public bool GrainsCompressed => extent.IsCompressed;
        public long TableOffset(long table) => (long)extent._gd[table] * Sector.Size;
        public void CheckTable(long table, Span<uint> entries)
        {
            extent._overlay?.Apply(table, entries);
            extent._rules.RefuseBadEntries(table, entries);
        }
    }

    // ---- grain tables and mapping -------------------------------------------------------------

    /// <summary>Reads and checks grain table <paramref name="index"/>; null when its GD entry is 0.</summary>
    public uint[]? ReadGrainTable(long index) => _tables.Table(index);

    /// <summary>Entries per grain table (format doc §2.3 numGTEsPerGT).</summary>
    internal int EntriesPerTable => _rules.EntriesPerTable;

    /// <summary>As <see cref="ReadGrainTable"/> into the caller's buffer, bypassing the cache (whole-file passes).</summary>
    internal bool TryReadGrainTable(long index, Span<uint> into) => _tables.TryRead(index, into);

    public void Map(long start, long count, List<ExtentPiece> output) => _tables.Map(start, count, output);

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    // ---- compressed grains (format doc §3.1) ---------------------------------------------------

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset)
    {
        byte[] grain = _grainCache!.Get(markerOffset, grainStart) ?? Decompress(markerOffset, grainStart);
        grain.AsSpan((int)inGrainOffset, buffer.Length).CopyTo(buffer);
    }

    private byte[] Decompress(long markerOffset, long grainStart)
    {
        Span<byte> head = stackalloc byte[StreamMarker.GrainHeaderBytes];
        FileOpening.ReadExactly(Handle!, head, markerOffset, FilePath!);
        var marker = StreamMarker.Parse(head);
        long sector = markerOffset / Sector.Size;
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
            long expected = Math.Min(_grainBytes, (Sectors - grainStart) * Sector.Size);
            if (total < expected)
                throw new CorruptMetadataException(FilePath!, $"grain at sector {sector} decompresses to {total} bytes, expected {expected}");
            _grainCache!.Put(markerOffset, grainStart, grain);
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
