using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;
using L = MountChain.Core.Formats.SeSparse.SeSparseHeaderLayout;

namespace MountChain.Core.Formats.SeSparse;

/// <summary>
/// Reader of an ESXi SESparse delta (`-sesparse.vmdk`), format doc §5: constant and volatile
/// headers, a grain directory of u64 entries naming grain tables in a pool, tables of 4096 u64
/// entries (unallocated / SCSI-unmapped / zero / allocated), 4 KiB grains. Read-only: a delta
/// whose journal needs replay is refused, never replayed.
/// Memory: 4 bytes per GD entry (≤ 16 MiB at the 64 TiB limit) plus one cached 32 KiB table.
/// Thread-safe: positional reads; the table cache is swapped atomically.
/// </summary>
public sealed class SeSparseExtent : IExtent
{
    private const long GrainBytes = (long)L.RequiredGrainSize * 512;
    private readonly long _fileLength;
    /// <summary>Per GD entry: GT pool index + 1, or 0 for no table.</summary>
    private readonly uint[] _gd;
    private CachedTable? _lastTable;

    private sealed record CachedTable(long Index, ulong[] Entries);

    public SeSparseExtent(string path, long? expectedSectors = null)
    {
        FilePath = path;
        Handle = FileOpening.OpenReadOnly(path);
        try
        {
            _fileLength = RandomAccess.GetLength(Handle);
            if (_fileLength < L.Size)
                throw new CorruptMetadataException(path, $"SESparse file is {_fileLength} bytes, too short for its 512-byte header");
            Span<byte> sector = stackalloc byte[L.Size];
            FileOpening.ReadExactly(Handle, sector, 0, path);
            Header = SeSparseHeader.Parse(sector, path);
            RequireInFile(Header.VolatileHeaderOffset, 1, "volatileHeaderOffset");
            FileOpening.ReadExactly(Handle, sector, (long)Header.VolatileHeaderOffset * 512, path);
            SeSparseHeader.CheckVolatile(sector, path);
            if (expectedSectors is long want && (ulong)want != Header.Capacity)
                throw new CorruptMetadataException(path, $"SESparse header capacity {Header.Capacity} sectors differs from the descriptor's extent size {want}");
            Sectors = (long)Header.Capacity;
            _gd = LoadDirectory();
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
    public long GrainSectors => (long)L.RequiredGrainSize;
    public SeSparseHeader Header { get; }
    public long FileLength => _fileLength;
    public long GrainTableCount => _gd.Length;

    /// <summary>GT pool index of grain table <paramref name="index"/>, or null when its GD entry is 0.</summary>
    public long? GrainTablePoolIndex(long index) => _gd[index] == 0 ? null : _gd[index] - 1L;

    private void RequireInFile(ulong offsetSectors, ulong sectors, string field)
    {
        if (offsetSectors > (ulong)_fileLength / 512 || (offsetSectors + sectors) * 512 > (ulong)_fileLength)
            throw new CorruptMetadataException(FilePath!, $"SESparse constant header: {field} {offsetSectors} (+{sectors} sectors) lies past the end of the {_fileLength}-byte file");
    }

    private uint[] LoadDirectory()
    {
        int count = (int)Header.NeededGdEntries;
        RequireInFile(Header.GrainDirOffset, ((ulong)count * 8 + 511) / 512, "grainDirOffset");
        var gd = new uint[count];
        // Read in 64 KiB pieces: a 64 TiB disk has a 32 MiB directory we never hold whole.
        byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long at = (long)Header.GrainDirOffset * 512;
            for (int done = 0; done < count;)
            {
                int n = Math.Min(count - done, 8192);
                FileOpening.ReadExactly(Handle!, chunk.AsSpan(0, n * 8), at + done * 8L, FilePath!);
                for (int i = 0; i < n; i++)
                    gd[done + i] = DecodeDirectoryEntry(BinaryPrimitives.ReadUInt64LittleEndian(chunk.AsSpan(i * 8)), done + i);
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        CheckTablesDistinct(gd);
        return gd;
    }

    /// <summary>§5.3: 0 = no table; else the top 32 bits must be exactly 0x10000000 and the low 32 bits a pool index.</summary>
    private uint DecodeDirectoryEntry(ulong e, int i)
    {
        if (e == 0) return 0;
        if ((e & 0xFFFFFFFF00000000) != L.GdAllocatedTag)
            throw new CorruptMetadataException(FilePath!, $"SESparse grain directory entry {i} is 0x{e:x16}: top bits are not 0x10000000 (§10.2 item 14)");
        ulong index = e & 0xFFFFFFFF;
        ulong sector = Header.GrainTablesOffset + index * L.RequiredGrainTableSize;
        if (Header.GrainTablesSize != 0 && (index + 1) * L.RequiredGrainTableSize > Header.GrainTablesSize)
            throw new CorruptMetadataException(FilePath!, $"SESparse grain directory entry {i} names grain table {index}, outside the {Header.GrainTablesSize}-sector table pool");
        if (sector * 512 + L.GtBytes > (ulong)_fileLength || index >= uint.MaxValue)
            throw new CorruptMetadataException(FilePath!, $"SESparse grain directory entry {i} names grain table {index} at sector {sector}, past the end of the {_fileLength}-byte file");
        return (uint)index + 1;
    }

    private void CheckTablesDistinct(uint[] gd)
    {
        var used = gd.Where(e => e != 0).Order().ToArray();
        for (int i = 1; i < used.Length; i++)
            if (used[i] == used[i - 1])
                throw new CorruptMetadataException(FilePath!, $"SESparse grain directory: two entries name the same grain table {used[i] - 1} (§10.2 item 3)");
    }

    // ---- grain tables ----------------------------------------------------------------------

    /// <summary>Reads and checks grain table <paramref name="index"/>; null when its GD entry is 0.</summary>
    public ulong[]? ReadGrainTable(long index)
    {
        var cached = _lastTable;
        if (cached is not null && cached.Index == index) return cached.Entries;
        if (_gd[index] == 0) return null;
        var table = new ulong[L.GtEntries];
        LoadTable(index, table);
        _lastTable = new CachedTable(index, table);
        return table;
    }

    private void LoadTable(long index, ulong[] table)
    {
        ReadTableEntries(index, table);
        CheckTable(index, table);
    }

    /// <summary>Byte offset of grain table <paramref name="index"/> in the file (its GD entry must be set).</summary>
    public long TableOffset(long index) => ((long)Header.GrainTablesOffset + (_gd[index] - 1L) * (long)L.RequiredGrainTableSize) * 512;

    /// <summary>Grain table <paramref name="index"/> as stored (host order), unchecked: for `check`, which reports every bad entry.</summary>
    internal void ReadTableEntries(long index, ulong[] table)
    {
        FileOpening.ReadExactly(Handle!, MemoryMarshal.AsBytes(table.AsSpan()), TableOffset(index), FilePath!);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < table.Length; i++) table[i] = BinaryPrimitives.ReverseEndianness(table[i]);
    }

    /// <summary>Entry type: bits 63–60 (§5.3).</summary>
    public static int EntryType(ulong e) => (int)(e >> 60);

    /// <summary>Cluster index of an allocated entry (type 3), §5.3: the low 12 bits sit at 48..59.</summary>
    public static ulong ClusterIndex(ulong e) => ((e >> 48) & 0xFFF) | ((e & 0x0000FFFFFFFFFFFF) << 12);

    private long GrainFileOffset(ulong cluster) => ((long)Header.GrainsOffset + (long)cluster * (long)L.RequiredGrainSize) * 512;

    /// <summary>§5.3 entry rules and §10.2 items 1, 3, 14 for one table.</summary>
    private void CheckTable(long index, ulong[] table)
    {
        long firstGrain = index * table.Length;
        int allocated = 0;
        for (int i = 0; i < table.Length; i++)
        {
            ulong e = table[i];
            if (e == 0) continue;
            if (EntryProblem(e, firstGrain + i) is { } problem)
                throw new CorruptMetadataException(FilePath!, $"SESparse grain table {index} entry {i} {problem}");
            if (EntryType(e) == 3) allocated++;
        }
        if (allocated > 1) CheckNoOverlap(index, table, allocated);
    }

    /// <summary>
    /// Null when entry <paramref name="e"/> of grain <paramref name="grain"/> is valid, else what is wrong
    /// (§5.3, §10.2 items 1 and 14): a bad type, set past the capacity, a grain outside the pool or
    /// past the end of the file. The one rule of the reader and of `check`.
    /// </summary>
    public string? EntryProblem(ulong e, long grain)
    {
        if (e == 0) return null;
        int type = EntryType(e);
        if (type == 0)
            return $"is 0x{e:x16}: type 0 (unallocated) with other bits set";
        if (type > 3)
            return $"is 0x{e:x16}: type {type} is invalid (§10.2 item 14)";
        long grainStart = grain * GrainSectors;
        if (grainStart >= Sectors)
            return $"is set (0x{e:x16}) but lies past the capacity";
        if (type != 3) return null; // 1 = SCSI unmapped, 2 = zero: both read as zeros
        ulong cluster = ClusterIndex(e);
        if (Header.GrainsSize != 0 && (cluster + 1) * L.RequiredGrainSize > Header.GrainsSize)
            return $"names grain {cluster}, outside the {Header.GrainsSize}-sector grain pool";
        long need = Math.Min(GrainSectors, Sectors - grainStart) * 512;
        ulong maxCluster = (ulong)(_fileLength / GrainBytes) + 1;
        if (cluster > maxCluster || GrainFileOffset(cluster) + need > _fileLength)
            return $"names grain {cluster}, past the end of the {_fileLength}-byte file";
        return null;
    }

    /// <summary>Byte offset of grain-pool cluster <paramref name="cluster"/> (§5.3).</summary>
    public long ClusterOffset(ulong cluster) => GrainFileOffset(cluster);

    private void CheckNoOverlap(long index, ulong[] table, int allocated)
    {
        ulong[] sorted = ArrayPool<ulong>.Shared.Rent(allocated);
        try
        {
            int n = 0;
            foreach (ulong e in table) if (EntryType(e) == 3) sorted[n++] = ClusterIndex(e);
            Array.Sort(sorted, 0, n);
            for (int i = 1; i < n; i++)
                if (sorted[i] == sorted[i - 1])
                    throw new CorruptMetadataException(FilePath!, $"SESparse grain table {index}: two entries name grain {sorted[i]} (§10.2 item 3)");
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(sorted);
        }
    }

    // ---- mapping -----------------------------------------------------------------------------

    public void Map(long start, long count, List<ExtentPiece> output)
    {
        long end = start + count, pos = start;
        long coverage = L.GtEntries * GrainSectors;
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
            ulong[] rented = ArrayPool<ulong>.Shared.Rent(L.GtEntries);
            ulong[] table = rented.Length == L.GtEntries ? rented : new ulong[L.GtEntries];
            try
            {
                LoadTable(gtIndex, table);
                pos = MapTable(table, gtIndex, pos, gtEnd, output);
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(rented);
            }
        }
    }

    private long MapTable(ulong[] table, long gtIndex, long pos, long gtEnd, List<ExtentPiece> output)
    {
        long g = GrainSectors;
        long firstGrain = gtIndex * table.Length;
        int lastIndex = (int)((gtEnd - 1) / g - firstGrain);
        while (pos < gtEnd)
        {
            long grain = pos / g;
            int i = (int)(grain - firstGrain);
            long grainStart = grain * g;
            ulong e = table[i];
            int type = EntryType(e);
            int last = i;
            if (type == 3)
            {
                // Neighbouring grains at consecutive cluster indexes read as one run.
                while (last < lastIndex && EntryType(table[last + 1]) == 3 && ClusterIndex(table[last + 1]) == ClusterIndex(table[last]) + 1) last++;
            }
            else
            {
                bool zero = type != 0;
                while (last < lastIndex && (EntryType(table[last + 1]) is 1 or 2) == zero && EntryType(table[last + 1]) != 3) last++;
            }
            long pieceEnd = Math.Min(gtEnd, (firstGrain + last + 1) * g);
            ExtentPieces.Append(output, type switch
            {
                0 => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Unallocated),
                3 => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Data, GrainFileOffset(ClusterIndex(e)) + (pos - grainStart) * 512),
                // §5.3: 1 (SCSI unmapped) reads as zeros like qemu and XO, not as the parent (dissect's reading).
                _ => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Zero),
            });
            pos = pieceEnd;
        }
        return pos;
    }

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset) =>
        throw new InvalidOperationException("SESparse extents hold no compressed grains");

    public void Dispose() => Handle!.Dispose();
}
