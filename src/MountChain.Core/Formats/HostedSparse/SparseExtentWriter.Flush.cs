using System.Diagnostics;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

// Metadata flush: one barrier through the intent journal (§2.10), else data barrier, dirty tables (primary,
// redundant, GD/RGD), barrier (§2.8); plus the timer.
internal sealed partial class SparseExtentWriter
{
    private readonly bool[] _gtDirty;
    private readonly List<int> _dirtyList = [];
    private bool _gdDirty;
    private long _flushedEpoch;
    private int _timerBusy;

    private void MarkTableDirty(int table)
    {
        lock (_dirtyLock) MarkTableDirtyLocked(table);
    }

    private void MarkTableDirtyLocked(int table)
    {
        if (_gtDirty[table]) return;
        _gtDirty[table] = true;
        _dirtyList.Add(table);
    }

    /// <summary>
    /// Everything written before this call survives a crash once it returns: with the intent
    /// journal one barrier (§2.10, <see cref="FlushWithIntentLocked"/>), else data barrier, GTs
    /// (primary, redundant), barrier (§2.8).
    /// Group commit: concurrent callers share syncs. Each caller notes the write epoch it must
    /// cover; a flush records the epoch it read before taking its snapshot, so once that is at
    /// least ours, every write of ours (data and published entry) was in a snapshot that is now
    /// durable and we return without touching the disk. One caller at a time is the leader and
    /// flushes; the others wait on <see cref="_commitGate"/>, not on the flush lock, and are woken
    /// by every finished flush: a caller its snapshot covered returns at once instead of queueing
    /// behind a later leader's sync it does not need (with a plain lock, a writer that re-entered
    /// first held the covered ones for a whole extra sync, and 8 writers shared a sync by ~1.4).
    /// The writers arriving during one sync are all covered by the next: N flushes in flight cost
    /// about one sync. Ordering is untouched: only <see cref="FlushLocked"/> writes, under the flush lock.
    /// </summary>
    public void Flush()
    {
        ThrowIfFailed();
        if (!_sessionStarted) return;
        long needed = Interlocked.Read(ref _writeEpoch);
        if (Interlocked.Read(ref _flushedEpoch) >= needed) return;
        lock (_commitGate)
        {
            while (true)
            {
                ThrowIfFailed();
                if (Interlocked.Read(ref _flushedEpoch) >= needed) return;
                if (!_committing)
                {
                    _committing = true;
                    break;
                }
                Monitor.Wait(_commitGate);
            }
        }
        try
        {
            AwaitWritesInFlight();
            lock (_flushLock)
            {
                // The timer or an in-place settle may have flushed for us meanwhile.
                if (Interlocked.Read(ref _flushedEpoch) < needed)
                {
                    long started = Stopwatch.GetTimestamp();
                    FlushLocked();
                    Volatile.Write(ref _lastFlushTicks, Stopwatch.GetTimestamp() - started);
                }
            }
        }
        finally
        {
            lock (_commitGate)
            {
                _committing = false;
                Monitor.PulseAll(_commitGate);
            }
        }
    }

    /// <summary>
    /// The leader lets writes already under way finish before it snapshots, for at most half of
    /// what the last flush took: their writers flush next, and joining this sync costs them
    /// less than a sync of their own. Without it the batches alternate (the first writer back
    /// after a flush leads alone while the others are still writing), about 4 of 8 writers per
    /// sync instead of 7. A write that is slow (large, blocked) only costs the bound; a device
    /// whose flush is cheap (tmpfs) gets no wait at all. Durability and ordering do not depend
    /// on it: whatever the snapshot misses, the next flush covers.
    /// </summary>
    private void AwaitWritesInFlight()
    {
        if (Volatile.Read(ref _writesInFlight) == 0) return;
        long bound = Volatile.Read(ref _lastFlushTicks) / 2;
        long start = Stopwatch.GetTimestamp();
        var spin = new SpinWait();
        while (Volatile.Read(ref _writesInFlight) > 0 && Stopwatch.GetTimestamp() - start < bound)
            spin.SpinOnce(sleep1Threshold: -1); // yields, never sleeps 1 ms
    }

    /// <summary>Write and WriteZeroes calls under way (a hint for <see cref="AwaitWritesInFlight"/>).</summary>
    private int _writesInFlight;
    /// <summary>How long the last leader's flush took, in <see cref="Stopwatch"/> ticks.</summary>
    private long _lastFlushTicks;

    /// <summary>Where callers of <see cref="Flush"/> wait while another caller leads a flush (a leaf: nothing is taken under it).</summary>
    private readonly object _commitGate = new();
    /// <summary>A caller of <see cref="Flush"/> is flushing (under <see cref="_commitGate"/>).</summary>
    private bool _committing;

    /// <summary>One flush under the flush lock; a failure stops all writes of this session.</summary>
    private void FlushLocked(bool settleAll = false)
    {
        ThrowIfFailed();
        long epoch = Interlocked.Read(ref _writeEpoch);
        try
        {
            FlushMetadataLocked(settleAll);
            Interlocked.Exchange(ref _flushedEpoch, epoch);
            Interlocked.Increment(ref _flushCount);
        }
        catch (Exception e)
        {
            // After a failed fdatasync the page cache cannot be trusted (data may be lost):
            // never write another table entry in this session; the next open recovers.
            _failure = e;
            throw;
        }
    }

    /// <summary>Flushes that reached the disk (a test and benchmark probe of group commit).</summary>
    public long FlushCount => Interlocked.Read(ref _flushCount);

    private long _flushCount;

    /// <summary>
    /// Snapshots what is pending, then takes the one-sync path when the file has a journal and the
    /// new grains fit one record, else the two-sync path. <paramref name="settleAll"/> (close,
    /// recovery) always takes the two-sync path: afterwards the tables alone say everything.
    /// </summary>
    private void FlushMetadataLocked(bool settleAll = false)
    {
        int[] tables;
        bool gd;
        byte[] buffer;
        long[] fresh;
        bool intent;
        lock (_dirtyLock)
        {
            // A new grain table (GD change) needs its zeros durable before the GD names it: two syncs.
            intent = _journal is not null && !settleAll && !_gdDirty && _new.Count <= MaxRecordedGrains;
            fresh = _new.ToArray();
            _new.Clear();
            if (!intent)
            {
                // Two-sync path: the data barrier below covers every New grain, so their entries go out now.
                foreach (long g in fresh) { Volatile.Write(ref _state[g], Settled); MarkTableDirtyLocked((int)(g / _gtesPerGt)); }
            }
            foreach (long g in _recorded) MarkTableDirtyLocked((int)(g / _gtesPerGt));
            tables = _dirtyList.ToArray();
            _dirtyList.Clear();
            foreach (int t in tables) _gtDirty[t] = false;
            gd = _gdDirty;
            _gdDirty = false;
            Array.Sort(tables);
            buffer = new byte[tables.Length * _gtBytes];
            for (int i = 0; i < tables.Length; i++) EncodeTable(tables[i], buffer.AsSpan(i * _gtBytes, _gtBytes));
        }
        try
        {
            if (intent)
            {
                FlushWithIntentLocked(fresh, tables, buffer);
                return;
            }
            _file.Sync();
            if (tables.Length > 0 || gd)
            {
                WriteTables(_gd, tables, buffer);
                if (gd) TableEntries.Write<uint>(_file.Write, _gd, (long)_header.GdOffset * Sector.Size);
                if (_rgd is not null)
                {
                    WriteTables(_rgd, tables, buffer);
                    if (gd) TableEntries.Write<uint>(_file.Write, _rgd, (long)_header.RgdOffset * Sector.Size);
                }
                _file.Sync();
            }
            foreach (long g in _recorded) Volatile.Write(ref _state[g], Settled);
            _recorded = [];
        }
        catch
        {
            lock (_dirtyLock)
            {
                foreach (int t in tables) MarkTableDirtyLocked(t);
                _gdDirty |= gd;
            }
            throw;
        }
    }

    /// <summary>Writes the given tables of <paramref name="buffer"/>; consecutive tables that are consecutive on disk in one call.</summary>
    private void WriteTables(uint[] directory, int[] tables, byte[] buffer)
    {
        int i = 0;
        while (i < tables.Length)
        {
            int run = 1;
            while (i + run < tables.Length && tables[i + run] == tables[i] + run &&
                   (long)directory[tables[i + run]] * Sector.Size == (long)directory[tables[i]] * Sector.Size + (long)run * _gtBytes)
                run++;
            // A table without a directory entry here (foreign file, one copy missing) has nowhere to go.
            if (directory[tables[i]] != 0)
                _file.Write(buffer.AsSpan(i * _gtBytes, run * _gtBytes), (long)directory[tables[i]] * Sector.Size);
            i += run;
        }
    }

    private void BackgroundFlush()
    {
        if (Interlocked.Exchange(ref _timerBusy, 1) == 1) return;
        try
        {
            bool pending;
            lock (_dirtyLock) pending = _dirtyList.Count > 0 || _gdDirty || _new.Count > 0;
            // Also settles the last record's grains (their tables), so on a quiet log everything
            // reaches the tables within two intervals even when the caller's flushes covered it.
            if (pending && _failure is null && !_disposed)
                lock (_flushLock) FlushLocked();
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
}
