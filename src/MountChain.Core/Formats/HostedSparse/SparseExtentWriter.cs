using MountChain.Core.Errors;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// Writes one hosted sparse extent file (format doc §2) crash-consistently: the engine under our redo
/// log and, during commit, under a sparse parent. Split by concern: this file holds the state, open,
/// reads and the session; <c>.Recovery</c> the reconciliation at open; <c>.Allocation</c> writes and
/// grain allocation; <c>.Flush</c> the metadata flush; <c>.Intents</c> the one-sync flush through
/// our intent journal (format doc §2.10) and the per-grain states it needs.
///
/// Ordering (format doc §2.8, design.md rule 4), the one rule every part keeps: a table entry
/// reaches the file only after a barrier that followed its grain's data. Without a journal:
/// data → barrier → table entries (primary, then redundant, then GD/RGD) → barrier. With our
/// intent journal (§2.10): data + a record naming the grains with their CRCs → one barrier; the
/// entries go into the tables with the next flush's barrier.
/// New grain data is written at the allocation point and published in memory at once (readers see
/// it), but its grain-table entry reaches the file only later, as above.
/// A crash therefore leaves at worst grains nobody points to, which recovery drops (tail) or leaves.
/// Overwrites of allocated grains go in place. Whole-grain zero writes set GTE 1 when the header
/// allows it (never 0: that would resurrect parent data).
///
/// Locks, in the only order they nest (a lock is never taken while holding one listed after it):
///   1. grain stripe locks (several only in ascending stripe index) — allocation of a grain;
///   2. <c>_gtAllocLock</c> — allocating a grain table for a GD entry of 0;
///   3. <c>_preallocationLock</c> — the zero fill ahead of the allocation point;
///   4. <c>_dirtyLock</c> — the dirty-table list (a leaf: no I/O under it).
/// <c>_flushLock</c> serialises flushes and is taken before any of them (a flush reads new grains
/// back under their stripe locks); nobody takes it while holding one. <c>_sessionLock</c> (first
/// write of a session) nests nothing. <c>_commitGate</c> (group commit: where <c>Flush</c> callers wait for a
/// leader's flush) is a leaf, never held across I/O or another lock. Reads and in-place overwrites of Settled grains take no lock.
///
/// Memory: the whole grain table lives in memory, 4 bytes per grain = 64 KiB per GiB of capacity
/// (128 MiB for 2 TiB), plus the GD/RGD (4 bytes per 32 MiB each).
/// </summary>
internal sealed partial class SparseExtentWriter : IDisposable
{
    private const int StripeCount = 1024;
    /// <summary>File positions are u32 sectors (format doc §10.1): a hosted extent file ends at 2 TiB.</summary>
    private const long MaxFileSectors = SparseExtentHeader.MaxFileSectors;

    private readonly WritableFile _file;
    private readonly SparseWriterOptions _options;
    private readonly HostedTableRules _rules;
    /// <summary>Every grain's entry (0 unallocated, 1 zeroed, else its sector), in grain order.</summary>
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
    private readonly List<string> _repairs = [];
    private readonly Timer? _timer;
    private long _next;
    private volatile bool _sessionStarted;
    private volatile Exception? _failure;
    private bool _disposed;
    private SparseExtentHeader _header;

    public SparseExtentWriter(string path, SparseWriterOptions? options = null)
    {
        _options = options ?? SparseWriterOptions.Default;
        _file = new WritableFile(path, create: false, _options.Fault);
        try
        {
            Span<byte> sector = stackalloc byte[SparseHeaderLayout.Size];
            if (_file.Length < SparseHeaderLayout.Size)
                throw new CorruptMetadataException(path, $"file is {_file.Length} bytes, too short for a sparse header");
            _file.Read(sector, 0);
            _header = SparseExtentHeader.Parse(sector, path);
            if (_header.IsCompressed || _header.GdOffset == SparseHeaderLayout.GdAtEnd)
                throw new UnsupportedFeatureException(path, "streamOptimized (compressed) extents cannot be written");
            if (_header.Version > 2)
                throw new UnsupportedFeatureException(path, $"sparse header version {_header.Version} (CBT) extents are not written (qemu and VMware treat them as read-only)");
            if (_header.GdOffset == 0)
                throw new CorruptMetadataException(path, "gdOffset is 0: the grain directory location is missing");
            _header.CheckPlacement(_file.Length, path);
            _rules = new HostedTableRules(_header, _file.Length, path);
            GrainSectors = _rules.GrainSectors;
            CapacitySectors = _rules.CapacitySectors;
            _gtesPerGt = _rules.EntriesPerTable;
            _gtBytes = _rules.TableBytes;
            _gtSectors = _rules.TableSectors;
            long tables = _rules.TableCount;
            if (tables * _gtesPerGt > 1L << 29)
                throw new UnsupportedFeatureException(path, $"capacity {CapacitySectors} sectors is too large to write (more than 2^29 grains)");
            _gd = ReadDirectory(_header.GdOffset, "gdOffset", "grain directory");
            if (_header.HasRedundantTables && _header.RgdOffset != 0)
                _rgd = ReadDirectory(_header.RgdOffset, "rgdOffset", "redundant grain directory");
            _gte = new uint[tables * _gtesPerGt];
            _state = new byte[_gte.Length];
            _gtDirty = new bool[tables];
            _journal = IntentJournal.Find(_file, TablesEndSector(), (long)_header.OverHead);
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
    public long CapacityBytes => CapacitySectors * Sector.Size;
    public long GrainSectors { get; }
    public long GrainBytes => GrainSectors * Sector.Size;
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

    /// <summary>Grains from <paramref name="grain"/> on (at most <paramref name="max"/>) served like it: same marker, or data contiguous in the file.</summary>
    internal int ContiguousRun(long grain, long max) =>
        GrainRuns.Contiguous<uint>(_gte.AsSpan((int)grain, (int)Math.Min(max, GrainCount - grain)), (uint)GrainSectors);

    /// <summary>Grains from <paramref name="grain"/> on (at most <paramref name="max"/>) of its kind: data anywhere, or the same marker.</summary>
    internal int SameKindRun(long grain, long max) =>
        GrainRuns.SameKind<uint>(_gte.AsSpan((int)grain, (int)Math.Min(max, GrainCount - grain)));

    /// <summary>Raw access for the descriptor region and for reading grain data.</summary>
    internal WritableFile File => _file;

    public void ReadData(Span<byte> buffer, long fileOffset) => _file.Read(buffer, fileOffset);

    private uint[] ReadDirectory(ulong sector, string field, string what)
    {
        if (_rules.DirectoryPlacementProblem(sector, field, what) is { } problem)
            throw new CorruptMetadataException(Path, problem);
        return _rules.ReadDirectory(_file.Read, sector);
    }

    private void WriteHeader(bool unclean)
    {
        _header = _header with { UncleanShutdown = unclean };
        Span<byte> sector = stackalloc byte[SparseHeaderLayout.Size];
        _file.Read(sector, 0);
        // Only uncleanShutdown changes: keep every other byte as the creator wrote it (format doc §2.1).
        sector[SparseHeaderLayout.UncleanShutdown] = unclean ? (byte)1 : (byte)0;
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
            _journal?.BeginSession(); // a fresh nonce: records of an earlier session never count (§2.10)
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
            long spanned = (inGrain + buffer.Length + GrainBytes - 1) / GrainBytes;
            long runEnd = (grain + ContiguousRun(grain, spanned)) * GrainBytes;
            int n = (int)Math.Min(buffer.Length, runEnd - offset);
            var dest = buffer[..n];
            if (e > 1) _file.Read(dest, (long)e * Sector.Size + inGrain);
            else if (e == 1 || below is null) dest.Clear();
            else below(dest, offset);
            buffer = buffer[n..];
            offset += n;
        }
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > CapacityBytes || length > CapacityBytes - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} lies outside the {CapacityBytes}-byte extent {Path}");
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
                // Two-sync flush: afterwards the tables alone hold every entry (no record needed).
                lock (_flushLock) FlushLocked(settleAll: true);
                // Cut the zero fill beyond the last grain (nothing references it), then mark clean
                // and end the journal's session in the same barrier (either order is safe, §2.10).
                long used = Interlocked.Read(ref _next) * Sector.Size;
                if (_file.Length > used) _file.SetLength(used);
                WriteHeader(unclean: false);
                _journal?.EndSession();
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
