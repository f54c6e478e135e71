using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

// Metadata flush: data barrier, dirty tables (primary, redundant, GD/RGD), barrier; plus the timer.
public sealed partial class SparseExtentWriter
{
    private readonly bool[] _gtDirty;
    private readonly List<int> _dirtyList = [];
    private bool _gdDirty;
    private long _flushedEpoch;
    private int _timerBusy;

    private void MarkTableDirty(int table)
    {
        lock (_dirtyLock)
        {
            if (_gtDirty[table]) return;
            _gtDirty[table] = true;
            _dirtyList.Add(table);
        }
    }

    /// <summary>
    /// Everything written before this call survives a crash once it returns: data barrier, GTs
    /// (primary, redundant), barrier.
    /// Group commit: concurrent callers share syncs. Each caller notes the write epoch it must
    /// cover before queueing on the flush lock; a flush records the epoch it read before taking
    /// its snapshot, so once that is at least ours, every write of ours (data and published entry)
    /// was in a snapshot that is now durable and we return without touching the disk. N flushes
    /// arriving during one flush therefore cost one more flush, not N.
    /// </summary>
    public void Flush()
    {
        ThrowIfFailed();
        if (!_sessionStarted) return;
        long needed = Interlocked.Read(ref _writeEpoch);
        if (Interlocked.Read(ref _flushedEpoch) >= needed) return;
        lock (_flushLock)
        {
            ThrowIfFailed();
            if (Interlocked.Read(ref _flushedEpoch) >= needed) return;
            long epoch = Interlocked.Read(ref _writeEpoch);
            try
            {
                FlushMetadataLocked();
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
    }

    /// <summary>Flushes that reached the disk (a test and benchmark probe of group commit).</summary>
    public long FlushCount => Interlocked.Read(ref _flushCount);

    private long _flushCount;

    /// <summary>
    /// The ordering rule of the class comment, in one place: snapshot the dirty GTs, barrier
    /// (fdatasync) for the grain data, then write the snapshot (primary, then redundant tables, and
    /// GD/RGD), barrier. The snapshot is taken before the data barrier on purpose: an entry is
    /// published only after its data write returned, so every entry in the snapshot has its data
    /// covered by the first barrier; entries published while we sync mark their table dirty again
    /// and wait for the next flush.
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
                TableEntries.Encode<uint>(_gte.AsSpan(tables[i] * _gtesPerGt, _gtesPerGt), buffer.AsSpan(i * _gtBytes, _gtBytes));
        }
        try
        {
            _file.Sync();
            if (tables.Length == 0 && !gd) return;
            WriteTables(_gd, tables, buffer);
            if (gd) TableEntries.Write<uint>(_file.Write, _gd, (long)_header.GdOffset * Sector.Size);
            if (_rgd is not null)
            {
                WriteTables(_rgd, tables, buffer);
                if (gd) TableEntries.Write<uint>(_file.Write, _rgd, (long)_header.RgdOffset * Sector.Size);
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
}
