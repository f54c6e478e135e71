using System.Buffers;
using System.Buffers.Binary;

namespace MountChain.Core.Formats.HostedSparse;

// One-sync flush through the intent journal (format doc §2.10) and the grain states it needs.
internal sealed partial class SparseExtentWriter
{
    // Grain states (one byte per grain; 32 MiB for 2 TiB). Only a grain whose entry is not yet in the
    // synced tables leaves Settled; a grain never goes back to New.
    /// <summary>The tables on disk say what the grain is (or nothing is pending for it).</summary>
    private const byte Settled = 0;
    /// <summary>Allocated, data written, entry only in memory; the tables on disk hold 0.</summary>
    private const byte NewOverUnallocated = 1;
    /// <summary>Allocated, data written, entry only in memory; the tables on disk hold 1 (zeroed grain).</summary>
    private const byte NewOverZeroed = 2;
    /// <summary>
    /// Named by an intent record with the CRC of its bytes; the tables follow at the next flush.
    /// Until then its bytes must not change: recovery checks the newest record's grains against
    /// their CRC, so an in-place write first settles the grain (<see cref="SettleRecorded"/>).
    /// </summary>
    private const byte Recorded = 3;

    /// <summary>Most grains one record carries; a flush with more takes the two-sync path (reading them back for CRCs would cost more than the second sync).</summary>
    private const int MaxRecordedGrains = 64;

    private readonly byte[] _state;
    /// <summary>Grains in a New state, in allocation order (under <c>_dirtyLock</c>).</summary>
    private readonly List<long> _new = [];
    /// <summary>Grains of the last completed record, whose entries the next flush writes into the tables (under <c>_flushLock</c>).</summary>
    private long[] _recorded = [];
    private IntentJournal? _journal;

    /// <summary>True when this file has our intent journal (files we created): a flush after new grains costs one sync.</summary>
    public bool HasIntentJournal => _journal is not null;

    /// <summary>Sector after the last grain directory or table that lies before overHead (where our journal may start).</summary>
    private long TablesEndSector() => IntentJournal.TablesEndSector(_header, _gd, _rgd, _gtSectors);

    /// <summary>The entry the tables on disk hold for <paramref name="grain"/> once the next flush writes them.</summary>
    private uint DurableEntry(long grain) => Volatile.Read(ref _state[grain]) switch
    {
        NewOverUnallocated => 0,
        NewOverZeroed => 1,
        _ => Volatile.Read(ref _gte[grain]),
    };

    /// <summary>Encodes table <paramref name="table"/> as it may go to disk now: entries of New grains keep their old value.</summary>
    private void EncodeTable(int table, Span<byte> dest)
    {
        long first = (long)table * _gtesPerGt;
        for (int i = 0; i < _gtesPerGt; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(dest[(i * sizeof(uint))..], DurableEntry(first + i));
    }

    /// <summary>
    /// The one-sync flush (format doc §2.10). The ordering lives here:
    ///  1. Snapshot (under <c>_dirtyLock</c>): the New grains F, and the tables to write: those of
    ///     the grains R of the previous record plus any dirty ones, encoded with F's entries still
    ///     at their old value. Every grain of F had its data write return before it was published.
    ///  2. Per grain of F, under its stripe lock: read its bytes back, CRC32C, state Recorded. From
    ///     here its bytes are frozen until it is Settled (in-place writers settle it first).
    ///  3. Append the record (sequence n) naming F with the CRCs; write R's tables (primary, then
    ///     redundant). No barrier in between: the record, F's data and R's tables may reach the
    ///     disk in any order.
    ///  4. One barrier. Now F's data and record are durable, R's tables too: R is Settled.
    /// Why a crash anywhere is safe: a table entry on disk is only ever written for a grain of an
    /// earlier record, whose flush had completed (its data was durable before the table write was
    /// issued): design.md rule 4 holds for the tables. Recovery applies the entries of every record
    /// older than the newest valid one unchecked (record n+1 is written only after flush n's
    /// barrier returned), and of the newest only grains whose bytes match their CRC: a grain whose
    /// data did not land, or landed torn, stays unreferenced and the chain below shows through, so
    /// parent data never reads as zeros. A grain of the newest record was not written since its CRC
    /// was taken (it is Recorded until a later barrier put its entry in the tables, and then the
    /// table, not the CRC, decides). Every acknowledged flush is covered: its record is durable.
    /// </summary>
    private void FlushWithIntentLocked(long[] fresh, int[] tables, byte[] buffer)
    {
        var journal = _journal!;
        long[] recorded = _recorded;
        var entries = new IntentEntry[fresh.Length];
        byte[] grain = ArrayPool<byte>.Shared.Rent((int)GrainBytes);
        try
        {
            for (int i = 0; i < fresh.Length; i++)
            {
                long g = fresh[i];
                lock (_stripes[g % StripeCount])
                {
                    uint sector = Volatile.Read(ref _gte[g]);
                    var bytes = grain.AsSpan(0, (int)GrainBytes);
                    _file.Read(bytes, (long)sector * Sector.Size);
                    entries[i] = new IntentEntry((uint)g, sector, IntentJournalLayout.Finish(IntentJournalLayout.Crc32C(bytes)));
                    Volatile.Write(ref _state[g], Recorded);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(grain);
        }
        if (entries.Length > 0) journal.Append(entries);
        WriteTables(_gd, tables, buffer);
        if (_rgd is not null) WriteTables(_rgd, tables, buffer);
        _file.Sync();
        foreach (long g in recorded) Volatile.Write(ref _state[g], Settled);
        _recorded = fresh;
        if (fresh.Length > 0)
            foreach (long g in fresh) MarkTableDirty((int)(g / _gtesPerGt));
    }

    /// <summary>
    /// An in-place write found grain <paramref name="grain"/> Recorded: flush (which writes the
    /// previous record's entries into the tables, with its one barrier) so the grain is Settled
    /// before its bytes change. At most once per grain; later writes to it go straight in place.
    /// </summary>
    private void SettleRecorded(long grain)
    {
        lock (_flushLock)
        {
            if (Volatile.Read(ref _state[grain]) != Recorded) return;
            FlushLocked();
        }
    }

    /// <summary>Grains from <paramref name="grain"/> on (at most <paramref name="max"/>) that are Settled: written in place without a lock.</summary>
    private int SettledRun(long grain, int max)
    {
        int n = 0;
        while (n < max && Volatile.Read(ref _state[grain + n]) == Settled) n++;
        return n;
    }

    /// <summary>
    /// In-place write of part of one allocated grain that is not Settled: under its stripe lock (so
    /// a flush's CRC sees it or it sees Recorded). False when Recorded: settle, then call again.
    /// </summary>
    private bool TryWriteUnsettled(long grain, ReadOnlySpan<byte> data, long fileOffset)
    {
        lock (_stripes[grain % StripeCount])
        {
            if (Volatile.Read(ref _state[grain]) == Recorded) return false;
            _file.Write(data, fileOffset);
            return true;
        }
    }
}
