using System.Buffers;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

// Writes: in place for allocated grains, else allocate (copy-on-write from below) and publish.
internal sealed partial class SparseExtentWriter
{
    /// <summary>Most grains one allocation writes in a single call (4 MiB at 64 KiB grains).</summary>
    private const int MaxRunGrains = 64;
    /// <summary>
    /// New grains go into space already written with zeros ahead of the allocation point: a flush
    /// then rewrites existing blocks and needs no file-size or block-allocation journal commit,
    /// several times cheaper per fdatasync on ext4/xfs. The tail is cut off at close.
    /// </summary>
    private const long PreallocationChunk = 2 << 20;
    /// <summary>Allocations of at least this many grains (streaming writes) skip the zero fill.</summary>
    private const int StreamingGrains = 8;
    private static readonly byte[] ZeroChunk = new byte[1 << 20];

    /// <summary>Bytes of the file below which new grains may be written (zero-filled or claimed).</summary>
    private long _preallocatedEnd;
    /// <summary>Counts write calls, so a flush with nothing new written since the last one returns at once.</summary>
    private long _writeEpoch;

    /// <summary>Writes <paramref name="data"/> at byte <paramref name="offset"/> of the extent (copy-on-write against <paramref name="below"/>).</summary>
    public void Write(ReadOnlySpan<byte> data, long offset, BelowReader? below)
    {
        CheckRange(offset, data.Length);
        ThrowIfFailed();
        if (data.IsEmpty) return;
        EnsureSession();
        Interlocked.Increment(ref _writesInFlight);
        try
        {
            WriteLoop(data, offset, below);
        }
        finally
        {
            Interlocked.Decrement(ref _writesInFlight);
        }
    }

    private void WriteLoop(ReadOnlySpan<byte> data, long offset, BelowReader? below)
    {
        while (!data.IsEmpty)
        {
            long grain = offset / GrainBytes;
            long inGrain = offset - grain * GrainBytes;
            int n = (int)Math.Min(data.Length, GrainBytes - inGrain);
            uint e = Entry(grain);
            if (e > 1)
            {
                // In place; join following Settled grains that are contiguous in the file.
                long spanned = (inGrain + data.Length + GrainBytes - 1) / GrainBytes;
                int settled = SettledRun(grain, ContiguousRun(grain, spanned));
                if (settled > 0)
                {
                    long total = Math.Min(data.Length, settled * GrainBytes - inGrain);
                    _file.Write(data[..(int)total], (long)e * Sector.Size + inGrain);
                    n = (int)total;
                }
                else if (!TryWriteUnsettled(grain, data[..n], (long)e * Sector.Size + inGrain))
                {
                    SettleRecorded(grain);
                    continue;
                }
            }
            else if (inGrain == 0 && n == GrainBytes)
            {
                long whole = Math.Min(MaxRunGrains, data.Length / GrainBytes);
                int grains = GrainRuns.WithoutData<uint>(_gte.AsSpan((int)grain, (int)Math.Min(whole, GrainCount - grain)));
                n = AllocateWholeGrains(grain, Math.Max(1, grains), data[..(int)(Math.Max(1, grains) * GrainBytes)]);
                if (n == 0) continue; // allocated meanwhile: the next round writes it in place
            }
            else if (!WritePartialGrain(grain, (int)inGrain, data[..n], below))
            {
                continue;
            }
            data = data[n..];
            offset += n;
        }
        Interlocked.Increment(ref _writeEpoch);
    }

    /// <summary>Allocates and writes whole grains [grain, grain+count) straight from the caller's buffer; returns bytes consumed (0: the first was allocated meanwhile).</summary>
    private int AllocateWholeGrains(long grain, int count, ReadOnlySpan<byte> data)
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
                    // Someone allocated one of them meanwhile: stop before it (the caller writes it in place).
                    if (i == 0) return 0;
                    count = i;
                    break;
                }
            }
            long sectors = count * GrainSectors;
            long p = AllocateSectors(sectors, grain);
            Preallocate(p, sectors, fill: count < StreamingGrains);
            _file.Write(data[..(int)(count * GrainBytes)], p * Sector.Size);
            for (int i = 0; i < count; i++) Publish(grain + i, (uint)(p + i * GrainSectors));
            return (int)(count * GrainBytes);
        }
        finally
        {
            for (int i = locked - 1; i >= 0; i--) Monitor.Exit(_stripes[stripes[i]]);
        }
    }

    /// <summary>False when the grain was allocated meanwhile: the caller's next round writes it in place.</summary>
    private bool WritePartialGrain(long grain, int inGrain, ReadOnlySpan<byte> data, BelowReader? below)
    {
        lock (_stripes[grain % StripeCount])
        {
            if (Entry(grain) > 1) return false;
            AllocatePartialGrain(grain, inGrain, data, below);
            return true;
        }
    }

    /// <summary>Under the grain's stripe lock, grain unallocated: build the whole grain (§2.8 step 2) and allocate it.</summary>
    private void AllocatePartialGrain(long grain, int inGrain, ReadOnlySpan<byte> data, BelowReader? below)
    {
        uint e = Entry(grain);
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
            _file.Write(whole, p * Sector.Size);
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
            _file.Write(new byte[block * Sector.Size], p * Sector.Size);
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
        long end = (p + sectors) * Sector.Size;
        if (end <= Volatile.Read(ref _preallocatedEnd)) return;
        lock (_preallocationLock)
        {
            long from = _preallocatedEnd;
            if (end <= from) return;
            if (fill)
            {
                long to = Math.Min(end + PreallocationChunk, MaxFileSectors * Sector.Size);
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

    /// <summary>
    /// Makes a grain visible to readers (after its data write returned, under its stripe lock). A
    /// new data grain becomes New (its entry reaches the tables through a flush, §2.8/§2.10); its
    /// state is set before the entry so an in-place writer that sees the entry sees the state.
    /// GTE 1 names no data and goes straight to the dirty tables.
    /// </summary>
    private void Publish(long grain, uint entry)
    {
        if (entry > 1)
        {
            lock (_dirtyLock)
            {
                Volatile.Write(ref _state[grain], Entry(grain) == 1 ? NewOverZeroed : NewOverUnallocated);
                _new.Add(grain);
            }
            Volatile.Write(ref _gte[grain], entry);
            return;
        }
        Volatile.Write(ref _gte[grain], entry);
        MarkTableDirty((int)(grain / _gtesPerGt));
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
                    bool allocated;
                    lock (_stripes[grain % StripeCount])
                    {
                        uint now = Entry(grain);
                        if (now == 0) Publish(grain, 1); // GTE 1 points at no data: nothing to order
                        allocated = now > 1;
                    }
                    // Allocated meanwhile: an ordinary in-place write (it settles a Recorded grain first).
                    if (allocated) Write(zeros.AsSpan(0, (int)n), offset, below);
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
}
