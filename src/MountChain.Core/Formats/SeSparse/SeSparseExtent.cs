using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;
using MountChain.Core.Formats.Grains;
using L = MountChain.Core.Formats.SeSparse.SeSparseHeaderLayout;

namespace MountChain.Core.Formats.SeSparse;

/// <summary>
/// Reader of an ESXi SESparse delta (`-sesparse.vmdk`), format doc §5: constant and volatile
/// headers, a grain directory of u64 entries naming grain tables in a pool, tables of 4096 u64
/// entries (unallocated / SCSI-unmapped / zero / allocated), 4 KiB grains. Read-only: a delta
/// whose journal needs replay is refused, never replayed.
/// Memory: 4 bytes per GD entry (≤ 16 MiB at the 64 TiB limit) plus the engine's one cached 32 KiB table.
/// Tables are read, cached and mapped by the shared grain-table engine (Formats/Grains).
/// </summary>
internal sealed class SeSparseExtent : IExtent
{
    private const long GrainBytes = (long)L.RequiredGrainSize * Sector.Size;
    private readonly long _fileLength;
    /// <summary>Per GD entry: GT pool index + 1, or 0 for no table.</summary>
    private readonly uint[] _gd;
    private readonly GrainTableReader<ulong> _tables;

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
            FileOpening.ReadExactly(Handle, sector, (long)Header.VolatileHeaderOffset * Sector.Size, path);
            SeSparseHeader.CheckVolatile(sector, path);
            if (expectedSectors is long want && (ulong)want != Header.Capacity)
                throw new CorruptMetadataException(path, $"SESparse header capacity {Header.Capacity} sectors differs from the descriptor's extent size {want}");
            Sectors = (long)Header.Capacity;
            _gd = LoadDirectory();
            _tables = new GrainTableReader<ulong>(new TableFormat(this), ReadData);
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
        if (offsetSectors > (ulong)_fileLength / Sector.Size || (offsetSectors + sectors) * Sector.Size > (ulong)_fileLength)
            throw new CorruptMetadataException(FilePath!, $"SESparse constant header: {field} {offsetSectors} (+{sectors} sectors) lies past the end of the {_fileLength}-byte file");
    }

    private uint[] LoadDirectory()
    {
        int count = (int)Header.NeededGdEntries;
        RequireInFile(Header.GrainDirOffset, (ulong)Sector.CeilingOf(count * 8L), "grainDirOffset");
        var gd = new uint[count];
        // Read in 64 KiB pieces: a 64 TiB disk has a 32 MiB directory we never hold whole.
        byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long at = (long)Header.GrainDirOffset * Sector.Size;
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
        if (sector * Sector.Size + L.GtBytes > (ulong)_fileLength || index >= uint.MaxValue)
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

    /// <summary>
    /// This format's half of the grain-table engine (§5.3): u64 entries checked, then rewritten in
    /// place into the engine's normal form — unallocated stays 0, SCSI-unmapped and zero become 1,
    /// allocated becomes the grain's file sector.
    /// </summary>
    private sealed class TableFormat(SeSparseExtent extent) : IGrainTableFormat<ulong>
    {
        public string FilePath => extent.FilePath!;
        public long Sectors => extent.Sectors;
        public long GrainSectors => extent.GrainSectors;
        public int EntriesPerTable => L.GtEntries;
        public bool GrainsCompressed => false;
        public long TableOffset(long table) => extent._gd[table] == 0 ? 0 : extent.TableOffset(table);
        public void CheckTable(long table, Span<ulong> entries) => extent.CheckAndNormalise(table, entries);
    }

    /// <summary>Grain table <paramref name="index"/>, checked and normalised (0 = parent, 1 = zeros, else the grain's file sector); null when its GD entry is 0.</summary>
    public ulong[]? ReadGrainTable(long index) => _tables.Table(index);

    /// <summary>Entry type: bits 63–60 (§5.3).</summary>
    public static int EntryType(ulong e) => (int)(e >> 60);

    /// <summary>Cluster index of an allocated entry (type 3), §5.3: the low 12 bits sit at 48..59.</summary>
    public static ulong ClusterIndex(ulong e) => ((e >> 48) & 0xFFF) | ((e & 0x0000FFFFFFFFFFFF) << 12);

    private ulong GrainSector(ulong cluster) => Header.GrainsOffset + cluster * L.RequiredGrainSize;

    /// <summary>§5.3 entry rules and §10.2 items 1, 3, 14 for one table, then the entries in normal form.</summary>
    private void CheckAndNormalise(long index, Span<ulong> table)
    {
        long firstGrain = index * table.Length;
        for (int i = 0; i < table.Length; i++)
        {
            ulong e = table[i];
            if (e == 0) continue;
            if (EntryProblem(e, firstGrain + i) is { } problem)
                throw new CorruptMetadataException(FilePath!, $"SESparse grain table {index} entry {i} {problem}");
            // §5.3: 1 (SCSI unmapped) reads as zeros like qemu and XO, not as the parent (dissect's reading).
            table[i] = EntryType(e) == 3 ? GrainSector(ClusterIndex(e)) : 1;
        }
        if (GrainRuns.OverlapInTable<ulong>(table, GrainSectors) is ulong at)
            throw new CorruptMetadataException(FilePath!, $"SESparse grain table {index}: two entries name grain {(at - Header.GrainsOffset) / L.RequiredGrainSize} (§10.2 item 3)");
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
        long need = Math.Min(GrainSectors, Sectors - grainStart) * Sector.Size;
        ulong maxCluster = (ulong)(_fileLength / GrainBytes) + 1;
        // Sector arithmetic checked before it becomes a byte offset: a hostile grainsOffset must not wrap or go negative.
        ulong sector = GrainSector(cluster);
        if (cluster > maxCluster || sector < Header.GrainsOffset || sector > (ulong)(_fileLength / Sector.Size)
            || (long)sector * Sector.Size + need > _fileLength)
            return $"names grain {cluster}, past the end of the {_fileLength}-byte file";
        return null;
    }

    /// <summary>Byte offset of grain table <paramref name="index"/> in the file (its GD entry must be set).</summary>
    public long TableOffset(long index) => ((long)Header.GrainTablesOffset + (_gd[index] - 1L) * (long)L.RequiredGrainTableSize) * Sector.Size;

    /// <summary>Grain table <paramref name="index"/> as stored (host order), unchecked: for `check`, which reports every bad entry.</summary>
    internal void ReadTableEntries(long index, ulong[] table) => TableEntries.Read<ulong>(ReadData, table, TableOffset(index));

    /// <summary>Byte offset of grain-pool cluster <paramref name="cluster"/> (§5.3).</summary>
    public long ClusterOffset(ulong cluster) => (long)GrainSector(cluster) * Sector.Size;

    public void Map(long start, long count, List<ExtentPiece> output) => _tables.Map(start, count, output);

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset) =>
        throw new InvalidOperationException("SESparse extents hold no compressed grains");

    public void Dispose() => Handle!.Dispose();
}
