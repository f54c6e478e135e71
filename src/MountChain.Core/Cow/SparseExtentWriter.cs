using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using MountChain.Core.Errors;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Cow;

/// <summary>Reads bytes of the disk below a writable extent (to fill the rest of a partly written grain).</summary>
/// <param name="byteOffset">Offset in the extent's own address space.</param>
public delegate void BelowReader(Span<byte> buffer, long byteOffset);

/// <summary>Tuning and test hooks of a <see cref="SparseExtentWriter"/>.</summary>
public sealed record SparseWriterOptions
{
    /// <summary>Grain-table entries are written at the latest this long after their data (0 = only on Flush/close).</summary>
    public TimeSpan MetadataFlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Test hook: return an exception to make that I/O call fail (the EIO / ENOSPC paths).</summary>
    public Func<LogIo, long, int, Exception?>? Fault { get; init; }

    /// <summary>Called once, before the first write of a session, after uncleanShutdown was set (RedoLog rewrites the CID here).</summary>
    public Action<SparseExtentWriter>? OnSessionStart { get; init; }

    public static SparseWriterOptions Default { get; } = new();
}

/// <summary>
/// Writes one hosted sparse extent file (format doc §2) crash-consistently: the engine under our redo
/// log and, during commit, under a sparse parent. Protocol (format doc §2.8, design.md rule 4):
/// new grain data is written at the allocation point and published in memory at once (readers see
/// it), but its grain-table entry reaches the file only at the next flush, after a data barrier:
/// fdatasync, primary GTs, redundant GTs, fdatasync. A crash therefore leaves at worst grains nobody
/// points to at the tail, which the recovery at open truncates. Overwrites of allocated grains go in
/// place. Whole-grain zero writes set GTE 1 when the header allows it (never 0: that would resurrect
/// parent data).
///
/// Memory: the whole grain table lives in memory, 4 bytes per grain = 64 KiB per GiB of capacity
/// (128 MiB for 2 TiB), plus the GD/RGD (4 bytes per 32 MiB each).
/// Concurrency: reads and in-place overwrites are lock-free; allocation of a grain takes one of
/// 1024 striped locks (and re-checks the entry under it); flushes are serialised.
/// </summary>
public sealed class SparseExtentWriter : IDisposable
{
    private const int StripeCount = 1024;
    /// <summary>Most grains one allocation writes in a single call (4 MiB at 64 KiB grains).</summary>
    private const int MaxRunGrains = 64;
    /// <summary>File positions are u32 sectors (format doc §10.1): a hosted extent file ends at 2 TiB.</summary>
    private const long MaxFileSectors = 1L << 32;
    /// <summary>
    /// New grains go into space already written with zeros ahead of the allocation point: a flush
    /// then rewrites existing blocks and needs no file-size or block-allocation journal commit,
    /// several times cheaper per fdatasync on ext4/xfs. The tail is cut off at close.
    /// </summary>
    private const long PreallocationChunk = 2 << 20;
    /// <summary>Allocations of at least this many grains (streaming writes) skip the zero fill.</summary>
    private const int StreamingGrains = 8;
    private static readonly byte[] ZeroChunk = new byte[1 << 20];

    private readonly LogFile _file;
    private readonly SparseWriterOptions _options;
    private readonly uint[] _gte;
    private readonly uint[] _gd;
    private readonly uint[]? _rgd;
    private readonly int _gtesPerGt;
    private readonly int _gtBytes;
    private readonly int _gtSectors;
    private readonly object[] _stripes;
    private readonly Lock _flushLock = new();
    private readonly Lock _dirtyLock = new();
    private readonly Lock _sessionLock = new();
    private readonly Lock _gtAllocLock = new();
    private readonly Lock _preallocationLock = new();
    /// <summary>Bytes of the file below which new grains may be written (zero-filled or claimed).</summary>
    private long _preallocatedEnd;
    private readonly bool[] _gtDirty;
    private readonly List<int> _dirtyList = [];
    private readonly List<string> _repairs = [];
    private readonly Timer? _timer;
    private bool _gdDirty;
    private long _next;
    private long _writeEpoch;
    private long _flushedEpoch;
    private volatile bool _sessionStarted;
    private volatile Exception? _failure;
    private int _timerBusy;
    private bool _disposed;
    private SparseExtentHeader _header;

    public SparseExtentWriter(string path, SparseWriterOptions? options = null)
    {
        _options = options ?? SparseWriterOptions.Default;
        _file = new LogFile(path, create: false, _options.Fault);
        try
        {
            Span<byte> sector = stackalloc byte[512];
            if (_file.Length < 512)
                throw new CorruptMetadataException(path, $"file is {_file.Length} bytes, too short for a sparse header");
            _file.Read(sector, 0);
            _header = SparseExtentHeader.Parse(sector, path);
            if (_header.IsCompressed || _header.GdOffset == SparseHeaderLayout.GdAtEnd)
                throw new UnsupportedFeatureException(path, "streamOptimized (compressed) extents cannot be written");
            if (_header.Version > 2)
                throw new UnsupportedFeatureException(path, $"sparse header version {_header.Version} (CBT) extents are not written (qemu and VMware treat them as read-only)");
            if (_header.GdOffset == 0)
                throw new CorruptMetadataException(path, "gdOffset is 0: the grain directory location is missing");
            GrainSectors = (long)_header.GrainSize;
            CapacitySectors = (long)_header.Capacity;
            _gtesPerGt = (int)_header.NumGtesPerGt;
            _gtBytes = _gtesPerGt * 4;
            _gtSectors = (_gtBytes + 511) / 512;
            long tables = (long)_header.GrainTableCount;
            if (tables * _gtesPerGt > 1L << 29)
                throw new UnsupportedFeatureException(path, $"capacity {CapacitySectors} sectors is too large to write (more than 2^29 grains)");
            _gd = ReadDirectory(_header.GdOffset, (int)tables, "grain directory");
            if (_header.HasRedundantTables && _header.RgdOffset != 0)
                _rgd = ReadDirectory(_header.RgdOffset, (int)tables, "redundant grain directory");
            _gte = new uint[tables * _gtesPerGt];
            _gtDirty = new bool[tables];
            _stripes = new object[StripeCount];
            for (int i = 0; i < StripeCount; i++) _stripes[i] = new object();
            LoadAndReconcileTables();
            _preallocatedEnd = _file.Length;
            if (_options.MetadataFlushInterval > TimeSpan.Zero)
                _timer = new Timer(_ => BackgroundFlush(), null, _options.MetadataFlushInterval, _options.MetadataFlushInterval);
        }
        catch
        {
            _file.Dispose();
            throw;
        }
    }

    public string Path => _file.Path;
    public SparseExtentHeader Header => _header;
    public long CapacitySectors { get; }
    public long CapacityBytes => CapacitySectors * 512;
    public long GrainSectors { get; }
    public long GrainBytes => GrainSectors * 512;
    public long GrainCount => (CapacitySectors + GrainSectors - 1) / GrainSectors;
    public bool AllowsZeroedGrains => _header.AllowsZeroedGrains;

    /// <summary>What the open repaired (after uncleanShutdown or inconsistent tables); empty if nothing.</summary>
    public IReadOnlyList<string> Repairs => _repairs;

    /// <summary>Allocation point in sectors: where the next new grain goes.</summary>
    public long AllocationPoint => Interlocked.Read(ref _next);

    /// <summary>True once this session wrote something (uncleanShutdown is set on disk).</summary>
    public bool SessionStarted => _sessionStarted;

    /// <summary>The grain-table entry of grain <paramref name="grain"/>: 0 unallocated, 1 zeroed, else its sector.</summary>
    public uint Entry(long grain) => Volatile.Read(ref _gte[grain]);

    /// <summary>Raw access for the descriptor region and for reading grain data.</summary>
    internal LogFile File => _file;

    public void ReadData(Span<byte> buffer, long fileOffset) => _file.Read(buffer, fileOffset);

    // ---- open: load tables, reconcile, recover -----------------------------------------------

    private uint[] ReadDirectory(ulong sector, int count, string what)
    {
        long bytes = (long)count * 4;
        if ((long)sector * 512 + bytes > _file.Length)
            throw new CorruptMetadataException(Path, $"{what} at sector {sector} lies past the end of the file");
        var gd = new uint[count];
        _file.Read(MemoryMarshal.AsBytes(gd.AsSpan()), (long)sector * 512);
        FromLittleEndian(gd);
        return gd;
    }

    private static void FromLittleEndian(Span<uint> values)
    {
        if (BitConverter.IsLittleEndian) return;
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReverseEndianness(values[i]);
    }

    /// <summary>Reads a copy of every grain table from <paramref name="directory"/> into one array (0 where the GD entry is 0).</summary>
    private uint[] ReadTables(uint[] directory)
    {
        var all = new uint[_gte.Length];
        long fileLength = _file.Length;
        int t = 0;
        while (t < directory.Length)
        {
            if (directory[t] == 0 || (long)directory[t] * 512 + _gtBytes > fileLength) { t++; continue; }
            // Tables are usually consecutive on disk: read a run in one call (up to 1 MiB).
            int run = 1;
            while (t + run < directory.Length && run < (1 << 20) / _gtBytes &&
                   directory[t + run] == directory[t] + (uint)(run * _gtSectors) &&
                   (long)directory[t + run] * 512 + _gtBytes <= fileLength)
                run++;
            var span = all.AsSpan(t * _gtesPerGt, run * _gtesPerGt);
            if (_gtBytes % 512 == 0 || run == 1)
                _file.Read(MemoryMarshal.AsBytes(span), (long)directory[t] * 512);
            else
                for (int i = 0; i < run; i++)
                    _file.Read(MemoryMarshal.AsBytes(span.Slice(i * _gtesPerGt, _gtesPerGt)), (long)directory[t + i] * 512);
            t += run;
        }
        FromLittleEndian(all);
        return all;
    }

    /// <summary>
    /// Loads the tables; with a redundant copy, keeps per entry the one that is valid (format doc
    /// §2.8 recovery): inside the file, past overHead, not on metadata, not shared. After an unclean
    /// shutdown also drops the orphan tail and rewrites both copies.
    /// </summary>
    private void LoadAndReconcileTables()
    {
        long fileLength = _file.Length;
        bool unclean = _header.UncleanShutdown;
        uint[] primary = ReadTables(_gd);
        uint[]? redundant = _rgd is null ? null : ReadTables(_rgd);
        var lateTables = LateTables();
        long overHead = (long)_header.OverHead;
        int cleared = 0, disagreed = 0, duplicates = 0;
        var changedTables = new HashSet<int>();

        bool Valid(uint e, long grain)
        {
            if (e == 0) return true;
            if (e == 1) return _header.AllowsZeroedGrains;
            if (e < overHead) return false;
            long need = Math.Min(GrainBytes, (CapacitySectors - grain * GrainSectors) * 512);
            if ((long)e * 512 + need > fileLength) return false;
            foreach (var (s, end) in lateTables)
                if (e < end && s < e + GrainSectors) return false;
            return true;
        }

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
        foreach (var (_, end) in lateTables) metadataEnd = Math.Max(metadataEnd, end);
        long next = Math.Max(maxEnd, metadataEnd);
        if (!unclean) next = Math.Max(next, (fileLength + 511) / 512);
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
        if (unclean && fileLength > next * 512)
        {
            _repairs.Add($"dropped {fileLength - next * 512} bytes of orphan grain data at the tail (written but never referenced)");
            _file.SetLength(next * 512);
        }
        WriteHeader(unclean: false);
        _file.Sync();
        _sessionStarted = false;
    }

    /// <summary>Grain tables placed after overHead (allocated later by a writer, §2.8 foreign files): their sector ranges.</summary>
    private List<(long Start, long End)> LateTables()
    {
        var list = new List<(long, long)>();
        long overHead = (long)_header.OverHead;
        foreach (var dir in new[] { _gd, _rgd })
        {
            if (dir is null) continue;
            foreach (uint e in dir)
                if (e != 0 && e >= overHead) list.Add((e, e + _gtSectors));
        }
        return list;
    }

    private void WriteHeader(bool unclean)
    {
        _header = _header with { UncleanShutdown = unclean };
        Span<byte> sector = stackalloc byte[512];
        _file.Read(sector, 0);
        // Only byte 0x48 changes: keep every other byte as the creator wrote it (format doc §2.1).
        sector[0x48] = unclean ? (byte)1 : (byte)0;
        _file.Write(sector, 0);
    }

    // ---- session --------------------------------------------------------------------------------

    private void ThrowIfFailed()
    {
        if (_disposed) throw new ObjectDisposedException(Path);
        if (_failure is { } f)
            throw new IOException($"{Path}: an earlier I/O error stopped all writes to this file ({f.Message}); close and reopen it to recover", f);
    }

    /// <summary>First write of a session: uncleanShutdown = 1 (+ the owner's CID rewrite), then a barrier (§2.8).</summary>
    private void EnsureSession()
    {
        if (_sessionStarted) return;
        lock (_sessionLock)
        {
            if (_sessionStarted) return;
            ThrowIfFailed();
            WriteHeader(unclean: true);
            _options.OnSessionStart?.Invoke(this);
            _file.Sync();
            _sessionStarted = true;
        }
    }

    // ---- reads ------------------------------------------------------------------------------------

    /// <summary>Reads [offset, offset+buffer.Length): this extent's grains, zeros for GTE 1, <paramref name="below"/> (or zeros) for GTE 0.</summary>
    public void Read(Span<byte> buffer, long offset, BelowReader? below)
    {
        CheckRange(offset, buffer.Length);
        while (!buffer.IsEmpty)
        {
            long grain = offset / GrainBytes;
            long inGrain = offset - grain * GrainBytes;
            uint e = Entry(grain);
            // Extend over following grains served the same way, for one large read.
            long runEnd = (grain + 1) * GrainBytes;
            long limit = offset + buffer.Length;
            for (long g = grain + 1; runEnd < limit; g++)
            {
                uint f = Entry(g);
                bool same = e > 1 ? f == e + (uint)((g - grain) * GrainSectors) : f == e;
                if (!same) break;
                runEnd += GrainBytes;
            }
            int n = (int)Math.Min(buffer.Length, runEnd - offset);
            var dest = buffer[..n];
            if (e > 1) _file.Read(dest, (long)e * 512 + inGrain);
            else if (e == 1 || below is null) dest.Clear();
            else below(dest, offset);
            buffer = buffer[n..];
            offset += n;
        }
    }

    // ---- writes -----------------------------------------------------------------------------------

    /// <summary>Writes <paramref name="data"/> at byte <paramref name="offset"/> of the extent (copy-on-write against <paramref name="below"/>).</summary>
    public void Write(ReadOnlySpan<byte> data, long offset, BelowReader? below)
    {
        CheckRange(offset, data.Length);
        ThrowIfFailed();
        if (data.IsEmpty) return;
        EnsureSession();
        while (!data.IsEmpty)
        {
            long grain = offset / GrainBytes;
            long inGrain = offset - grain * GrainBytes;
            int n = (int)Math.Min(data.Length, GrainBytes - inGrain);
            uint e = Entry(grain);
            if (e > 1)
            {
                // In place; join following grains that are contiguous in the file.
                long g = grain + 1;
                long total = n;
                while (total < data.Length && Entry(g) == e + (uint)((g - grain) * GrainSectors))
                {
                    total = Math.Min(data.Length, total + GrainBytes);
                    g++;
                }
                _file.Write(data[..(int)total], (long)e * 512 + inGrain);
                n = (int)total;
            }
            else if (inGrain == 0 && n == GrainBytes)
            {
                int grains = 1;
                while (grains < MaxRunGrains && (long)(grains + 1) * GrainBytes <= data.Length && Entry(grain + grains) <= 1) grains++;
                n = AllocateWholeGrains(grain, grains, data[..(int)(grains * GrainBytes)], below);
            }
            else
            {
                WritePartialGrain(grain, (int)inGrain, data[..n], below);
            }
            data = data[n..];
            offset += n;
        }
        Interlocked.Increment(ref _writeEpoch);
    }

    /// <summary>Allocates and writes whole grains [grain, grain+count) straight from the caller's buffer; returns bytes consumed.</summary>
    private int AllocateWholeGrains(long grain, int count, ReadOnlySpan<byte> data, BelowReader? below)
    {
        Span<int> stripes = stackalloc int[count];
        for (int i = 0; i < count; i++) stripes[i] = (int)((grain + i) % StripeCount);
        stripes.Sort();
        int locked = 0;
        try
        {
            for (; locked < count; locked++) Monitor.Enter(_stripes[stripes[locked]]);
            for (int i = 0; i < count; i++)
            {
                if (Entry(grain + i) > 1)
                {
                    // Someone allocated one of them meanwhile: do the first grain alone (it re-checks).
                    if (i == 0)
                    {
                        WriteAllocatedOrNew(grain, 0, data[..(int)GrainBytes], below);
                        return (int)GrainBytes;
                    }
                    count = i;
                    break;
                }
            }
            long sectors = count * GrainSectors;
            long p = AllocateSectors(sectors, grain);
            Preallocate(p, sectors, fill: count < StreamingGrains);
            _file.Write(data[..(int)(count * GrainBytes)], p * 512);
            for (int i = 0; i < count; i++) Publish(grain + i, (uint)(p + i * GrainSectors));
            return (int)(count * GrainBytes);
        }
        finally
        {
            for (int i = locked - 1; i >= 0; i--) Monitor.Exit(_stripes[stripes[i]]);
        }
    }

    private void WritePartialGrain(long grain, int inGrain, ReadOnlySpan<byte> data, BelowReader? below)
    {
        lock (_stripes[grain % StripeCount])
            WriteAllocatedOrNew(grain, inGrain, data, below);
    }

    /// <summary>Under the grain's stripe lock: in place if allocated meanwhile, else build the whole grain and allocate it.</summary>
    private void WriteAllocatedOrNew(long grain, int inGrain, ReadOnlySpan<byte> data, BelowReader? below)
    {
        uint e = Entry(grain);
        if (e > 1)
        {
            _file.Write(data, (long)e * 512 + inGrain);
            return;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)GrainBytes);
        try
        {
            var whole = buffer.AsSpan(0, (int)GrainBytes);
            if (data.Length < whole.Length)
            {
                // §2.8 step 2: the rest of the grain comes from the chain below (GTE 0) or is zero (GTE 1).
                long grainStart = grain * GrainBytes;
                int valid = (int)Math.Min(GrainBytes, CapacityBytes - grainStart);
                whole.Clear();
                if (e == 0 && below is not null) below(whole[..valid], grainStart);
            }
            data.CopyTo(whole[inGrain..]);
            long p = AllocateSectors(GrainSectors, grain);
            Preallocate(p, GrainSectors, fill: true);
            _file.Write(whole, p * 512);
            Publish(grain, (uint)p);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reserves file space for new grains in table of <paramref name="grain"/> (allocating the table if its GD entry is 0).</summary>
    private long AllocateSectors(long sectors, long grain)
    {
        int table = (int)(grain / _gtesPerGt);
        if (_gd[table] == 0) AllocateGrainTable(table);
        long p = Interlocked.Add(ref _next, sectors) - sectors;
        if (p + sectors > MaxFileSectors)
            throw new IOException($"{Path}: the sparse file is full: hosted sparse files address at most 2 TiB (format doc §10.1)");
        return p;
    }

    /// <summary>
    /// Format doc §2.8: a foreign file whose GD entry is 0 gets a zeroed GT (+ redundant copy) at the
    /// allocation point; the zeros are data (synced with the grains), the GD/RGD entries metadata.
    /// One grain-sized block keeps the following grains aligned.
    /// </summary>
    private void AllocateGrainTable(int table)
    {
        lock (_gtAllocLock)
        {
            if (_gd[table] != 0) return;
            long need = _gtSectors * (_rgd is null ? 1 : 2);
            long block = (need + GrainSectors - 1) / GrainSectors * GrainSectors;
            long p = Interlocked.Add(ref _next, block) - block;
            if (p + block > MaxFileSectors)
                throw new IOException($"{Path}: the sparse file is full: hosted sparse files address at most 2 TiB");
            Preallocate(p, block, fill: false);
            _file.Write(new byte[block * 512], p * 512);
            if (_rgd is not null) _rgd[table] = (uint)(p + _gtSectors);
            Volatile.Write(ref _gd[table], (uint)p);
            lock (_dirtyLock) _gdDirty = true;
        }
    }

    /// <summary>
    /// Before data goes to sectors [p, p+sectors): make sure the zero fill ahead of the allocation
    /// point covers them (or, for streaming writes, just claim them). Nobody writes at or past
    /// <see cref="_preallocatedEnd"/> before this returns, so the fill never overwrites data.
    /// </summary>
    private void Preallocate(long p, long sectors, bool fill)
    {
        long end = (p + sectors) * 512;
        if (end <= Volatile.Read(ref _preallocatedEnd)) return;
        lock (_preallocationLock)
        {
            long from = _preallocatedEnd;
            if (end <= from) return;
            if (fill)
            {
                long to = Math.Min(end + PreallocationChunk, MaxFileSectors * 512);
                try
                {
                    for (long at = from; at < to; at += ZeroChunk.Length)
                        _file.Write(ZeroChunk.AsSpan(0, (int)Math.Min(ZeroChunk.Length, to - at)), at);
                    end = to;
                }
                catch (IOException)
                {
                    // Best effort (e.g. a nearly full file system): the data write itself reports the real error.
                }
            }
            Volatile.Write(ref _preallocatedEnd, end);
        }
    }

    /// <summary>Makes a grain visible to readers (after its data write returned) and marks its table dirty.</summary>
    private void Publish(long grain, uint entry)
    {
        Volatile.Write(ref _gte[grain], entry);
        int table = (int)(grain / _gtesPerGt);
        lock (_dirtyLock)
        {
            if (_gtDirty[table]) return;
            _gtDirty[table] = true;
            _dirtyList.Add(table);
        }
    }

    /// <summary>
    /// Makes [offset, offset+length) read as zeros. Whole grains: allocated ones are zeroed in place,
    /// unallocated ones get GTE 1 (v2 files), or nothing when <paramref name="below"/> is null (nothing to hide), else a
    /// zero-filled grain. Partial grains: a normal write of zeros.
    /// </summary>
    public void WriteZeroes(long offset, long length, BelowReader? below)
    {
        CheckRange(offset, length);
        ThrowIfFailed();
        if (length == 0) return;
        EnsureSession();
        byte[] zeros = ArrayPool<byte>.Shared.Rent((int)GrainBytes);
        try
        {
            zeros.AsSpan(0, (int)GrainBytes).Clear();
            long end = offset + length;
            while (offset < end)
            {
                long grain = offset / GrainBytes;
                long grainStart = grain * GrainBytes;
                long grainEnd = Math.Min(grainStart + GrainBytes, CapacityBytes);
                long n = Math.Min(end, grainEnd) - offset;
                bool whole = offset == grainStart && offset + n == grainEnd;
                uint e = Entry(grain);
                if (e == 1 || (e == 0 && below is null))
                {
                    // Already reads as zeros: nothing to write.
                }
                else if (e > 1 || !whole || !AllowsZeroedGrains)
                {
                    Write(zeros.AsSpan(0, (int)n), offset, below);
                }
                else
                {
                    lock (_stripes[grain % StripeCount])
                    {
                        uint now = Entry(grain);
                        if (now == 0) Publish(grain, 1); // GTE 1 points at no data: nothing to order
                        else if (now > 1) _file.Write(zeros.AsSpan(0, (int)n), (long)now * 512);
                    }
                }
                offset += n;
            }
            Interlocked.Increment(ref _writeEpoch);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > CapacityBytes || length > CapacityBytes - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} lies outside the {CapacityBytes}-byte extent {Path}");
    }

    // ---- flush --------------------------------------------------------------------------------------

    /// <summary>Everything written before this call survives a crash once it returns: data barrier, GTs (primary, redundant), barrier.</summary>
    public void Flush()
    {
        ThrowIfFailed();
        if (!_sessionStarted) return;
        lock (_flushLock)
        {
            long epoch = Interlocked.Read(ref _writeEpoch);
            bool metadata;
            lock (_dirtyLock) metadata = _dirtyList.Count > 0 || _gdDirty;
            if (epoch == _flushedEpoch && !metadata) return;
            try
            {
                FlushMetadataLocked();
                _flushedEpoch = epoch;
            }
            catch (Exception e)
            {
                // After a failed fdatasync the page cache cannot be trusted (data may be lost):
                // never write another table entry in this session; the next open recovers.
                _failure = e;
                throw;
            }
        }
    }

    /// <summary>
    /// Design rule 4 in one place: snapshot the dirty GTs, barrier (fdatasync) for the grain data, then
    /// write the snapshot (primary, then redundant tables, and GD/RGD), barrier. The snapshot is taken
    /// before the data barrier on purpose: an entry is published only after its data write returned,
    /// so every entry in the snapshot has its data covered by the first barrier; entries published
    /// while we sync mark their table dirty again and wait for the next flush.
    /// </summary>
    private void FlushMetadataLocked()
    {
        int[] tables;
        bool gd;
        byte[] buffer;
        lock (_dirtyLock)
        {
            tables = _dirtyList.ToArray();
            _dirtyList.Clear();
            foreach (int t in tables) _gtDirty[t] = false;
            gd = _gdDirty;
            _gdDirty = false;
            Array.Sort(tables);
            buffer = new byte[tables.Length * _gtBytes];
            for (int i = 0; i < tables.Length; i++)
            {
                var dest = MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(i * _gtBytes, _gtBytes));
                for (int k = 0; k < _gtesPerGt; k++)
                    dest[k] = BitConverter.IsLittleEndian ? Volatile.Read(ref _gte[tables[i] * _gtesPerGt + k])
                        : BinaryPrimitives.ReverseEndianness(Volatile.Read(ref _gte[tables[i] * _gtesPerGt + k]));
            }
        }
        try
        {
            _file.Sync();
            if (tables.Length == 0 && !gd) return;
            WriteTables(_gd, tables, buffer);
            if (gd) WriteDirectory(_gd, _header.GdOffset);
            if (_rgd is not null)
            {
                WriteTables(_rgd, tables, buffer);
                if (gd) WriteDirectory(_rgd, _header.RgdOffset);
            }
            _file.Sync();
        }
        catch
        {
            lock (_dirtyLock)
            {
                foreach (int t in tables)
                    if (!_gtDirty[t]) { _gtDirty[t] = true; _dirtyList.Add(t); }
                _gdDirty |= gd;
            }
            throw;
        }
    }

    /// <summary>Writes the given tables; consecutive tables that are consecutive on disk in one call.</summary>
    private void WriteTables(uint[] directory, int[] tables, byte[] buffer)
    {
        int i = 0;
        while (i < tables.Length)
        {
            int run = 1;
            while (_gtBytes % 512 == 0 && i + run < tables.Length && tables[i + run] == tables[i] + run &&
                   directory[tables[i + run]] == directory[tables[i]] + (uint)(run * _gtSectors))
                run++;
            // A table without a directory entry here (foreign file, one copy missing) has nowhere to go.
            if (directory[tables[i]] != 0)
                _file.Write(buffer.AsSpan(i * _gtBytes, run * _gtBytes), (long)directory[tables[i]] * 512);
            i += run;
        }
    }

    private void WriteDirectory(uint[] directory, ulong sector)
    {
        var copy = directory.ToArray();
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < copy.Length; i++) copy[i] = BinaryPrimitives.ReverseEndianness(copy[i]);
        _file.Write(MemoryMarshal.AsBytes(copy.AsSpan()), (long)sector * 512);
    }

    private void BackgroundFlush()
    {
        if (Interlocked.Exchange(ref _timerBusy, 1) == 1) return;
        try
        {
            bool pending;
            lock (_dirtyLock) pending = _dirtyList.Count > 0 || _gdDirty;
            if (pending && _failure is null && !_disposed) Flush();
        }
        catch
        {
            // Recorded in _failure; the next foreground call reports it.
        }
        finally
        {
            Volatile.Write(ref _timerBusy, 0);
        }
    }

    /// <summary>Flushes and marks the file cleanly closed (uncleanShutdown = 0). After a failure, leaves it for recovery.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (_timer is not null)
        {
            using var done = new ManualResetEvent(false);
            if (_timer.Dispose(done)) done.WaitOne();
        }
        try
        {
            if (_sessionStarted && _failure is null)
            {
                Flush();
                // Cut the zero fill beyond the last grain (nothing references it), then mark clean.
                long used = Interlocked.Read(ref _next) * 512;
                if (_file.Length > used) _file.SetLength(used);
                WriteHeader(unclean: false);
                _file.Sync();
            }
        }
        finally
        {
            _disposed = true;
            _file.Dispose();
        }
    }
}
