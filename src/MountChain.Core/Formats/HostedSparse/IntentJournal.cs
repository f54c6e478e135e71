using System.Buffers.Binary;
using System.Security.Cryptography;
using MountChain.Core.Formats.Grains;
using L = MountChain.Core.Formats.HostedSparse.IntentJournalLayout;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>One grain named by an intent record: its entry and the CRC32C of its bytes as flushed.</summary>
internal readonly record struct IntentEntry(uint Grain, uint Sector, uint DataCrc);

/// <summary>A record read back from the journal (recovery).</summary>
internal sealed record IntentRecord(ulong Sequence, IntentEntry[] Entries);

/// <summary>
/// The intent journal of our redo logs (format doc §2.10, *ours*): a small region between the grain
/// tables and overHead, where nothing of the monolithicSparse format lives, so qemu and VMware
/// neither read nor write it. A flush appends one record naming the grains it publishes (grain,
/// sector, CRC of the grain), in the same device sync as their data; the grain tables follow one
/// flush later. Only files whose region starts with our header use it; any other file keeps the
/// two-sync protocol of §2.8.
/// Not thread-safe: the writer calls it under its flush lock (and its session lock at start).
/// A journal found through <see cref="FindReadOnly"/> only reads (a read-only open replays it in memory).
/// </summary>
internal sealed class IntentJournal
{
    private readonly ReadAt _read;
    private readonly WritableFile? _file;
    private readonly long _offset;
    private readonly int _slots;
    private readonly byte[] _slot = new byte[L.SlotBytes];
    private ulong _sequence;

    private IntentJournal(ReadAt read, WritableFile? file, long startSector, int slots, ulong nonce)
    {
        _read = read;
        _file = file;
        _offset = startSector * Sector.Size;
        _slots = slots;
        Nonce = nonce;
    }

    /// <summary>The session whose records count; 0 when no session is open (the tables say everything).</summary>
    public ulong Nonce { get; private set; }

    /// <summary>Writes an empty journal (no session) at <paramref name="startSector"/>; the creator's part.</summary>
    public static void Format(WritableFile file, long startSector)
    {
        file.Write(new byte[L.RegionSectors * Sector.Size], startSector * Sector.Size);
        file.Write(HeaderBytes(L.SlotCount, 0), startSector * Sector.Size);
    }

    /// <summary>
    /// The journal of a file, or null when it has none: the region must start at the first 4 KiB
    /// boundary after <paramref name="tablesEndSector"/>, end by overHead, and hold our header.
    /// </summary>
    public static IntentJournal? Find(WritableFile file, long tablesEndSector, long overHead) =>
        Find(file.Read, file, file.Length, tablesEndSector, overHead);

    /// <summary>As <see cref="Find(WritableFile, long, long)"/> for a file opened read-only: the journal can read its records, never write.</summary>
    public static IntentJournal? FindReadOnly(ReadAt read, long fileLength, long tablesEndSector, long overHead) =>
        Find(read, null, fileLength, tablesEndSector, overHead);

    private static IntentJournal? Find(ReadAt read, WritableFile? file, long fileLength, long tablesEndSector, long overHead)
    {
        long start = L.RegionStartAfter(tablesEndSector);
        if (start + L.RegionSectors > overHead || (start + L.RegionSectors) * Sector.Size > fileLength) return null;
        Span<byte> header = stackalloc byte[Sector.Size];
        read(header, start * Sector.Size);
        if (BinaryPrimitives.ReadUInt64LittleEndian(header[L.HeaderMagic..]) != L.HeaderMagicValue) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[L.HeaderCrc..]) != L.Finish(L.Crc32C(header[..L.HeaderCrc]))) return null;
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[L.HeaderVersion..]) != L.Version) return null;
        uint slots = BinaryPrimitives.ReadUInt32LittleEndian(header[L.HeaderSlotCount..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[L.HeaderSlotBytes..]) != L.SlotBytes) return null;
        // The slots must fit the region we checked (a bad count never makes us read or write elsewhere).
        if (slots < 2 || (1 + slots) * (long)L.SlotBytes > L.RegionSectors * Sector.Size) return null;
        return new IntentJournal(read, file, start, (int)slots, BinaryPrimitives.ReadUInt64LittleEndian(header[L.HeaderNonce..]));
    }

    /// <summary>Opens a session: a fresh nonce in the header. The caller's barrier makes it durable before any record.</summary>
    public void BeginSession()
    {
        ulong nonce;
        do nonce = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8)); while (nonce == 0);
        Nonce = nonce;
        _sequence = 0;
        Writable.Write(HeaderBytes(_slots, nonce), _offset);
    }

    /// <summary>Closes the session (nonce 0): only after the tables hold every recorded entry and were synced.</summary>
    public void EndSession()
    {
        Nonce = 0;
        Writable.Write(HeaderBytes(_slots, 0), _offset);
    }

    /// <summary>Writes the next record into its slot (no sync: the caller's one barrier covers it with the data).</summary>
    public void Append(ReadOnlySpan<IntentEntry> entries)
    {
        if (entries.Length > L.MaxEntries) throw new ArgumentOutOfRangeException(nameof(entries), $"{entries.Length} entries do not fit one record ({L.MaxEntries})");
        _sequence++;
        var s = _slot.AsSpan();
        s.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(s[L.RecordMagic..], L.RecordMagicValue);
        BinaryPrimitives.WriteUInt64LittleEndian(s[L.RecordNonce..], Nonce);
        BinaryPrimitives.WriteUInt64LittleEndian(s[L.RecordSequence..], _sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(s[L.RecordCount..], (uint)entries.Length);
        for (int i = 0; i < entries.Length; i++)
        {
            var e = s.Slice(L.RecordEntries + i * L.EntryBytes, L.EntryBytes);
            BinaryPrimitives.WriteUInt32LittleEndian(e[L.EntryGrain..], entries[i].Grain);
            BinaryPrimitives.WriteUInt32LittleEndian(e[L.EntrySector..], entries[i].Sector);
            BinaryPrimitives.WriteUInt32LittleEndian(e[L.EntryDataCrc..], entries[i].DataCrc);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[L.RecordCrc..], RecordCrc(s, entries.Length));
        Writable.Write(s, SlotOffset(_sequence));
    }

    /// <summary>The valid records of the current session, oldest first (torn or stale slots are skipped).</summary>
    public List<IntentRecord> ReadRecords()
    {
        var records = new List<IntentRecord>();
        if (Nonce == 0) return records;
        var s = _slot.AsSpan();
        for (int i = 0; i < _slots; i++)
        {
            _read(s, _offset + (1 + i) * (long)L.SlotBytes);
            if (BinaryPrimitives.ReadUInt64LittleEndian(s[L.RecordMagic..]) != L.RecordMagicValue) continue;
            if (BinaryPrimitives.ReadUInt64LittleEndian(s[L.RecordNonce..]) != Nonce) continue;
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(s[L.RecordCount..]);
            if (count > L.MaxEntries) continue;
            if (BinaryPrimitives.ReadUInt32LittleEndian(s[L.RecordCrc..]) != RecordCrc(s, (int)count)) continue;
            ulong sequence = BinaryPrimitives.ReadUInt64LittleEndian(s[L.RecordSequence..]);
            if (sequence == 0 || (long)(sequence % (ulong)_slots) != i) continue;
            var entries = new IntentEntry[count];
            for (int k = 0; k < entries.Length; k++)
            {
                var e = s.Slice(L.RecordEntries + k * L.EntryBytes, L.EntryBytes);
                entries[k] = new IntentEntry(BinaryPrimitives.ReadUInt32LittleEndian(e[L.EntryGrain..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(e[L.EntrySector..]), BinaryPrimitives.ReadUInt32LittleEndian(e[L.EntryDataCrc..]));
            }
            records.Add(new IntentRecord(sequence, entries));
        }
        records.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return records;
    }

    private WritableFile Writable => _file ?? throw new InvalidOperationException("the intent journal of a read-only file is never written");

    /// <summary>
    /// Sector after the last grain directory or table that lies before overHead: the journal's
    /// region starts at the next 4 KiB boundary (format doc §2.10). Writer and reader place it alike.
    /// </summary>
    public static long TablesEndSector(SparseExtentHeader header, uint[] gd, uint[]? rgd, long tableSectors)
    {
        long gdSectors = Sector.CeilingOf(gd.Length * sizeof(uint));
        long end = (long)header.GdOffset + gdSectors;
        if (rgd is not null) end = Math.Max(end, (long)header.RgdOffset + gdSectors);
        foreach (var directory in new[] { gd, rgd })
            if (directory is not null)
                foreach (uint e in directory)
                    if (e != 0 && e < header.OverHead) end = Math.Max(end, (long)e + tableSectors);
        return end;
    }

    private long SlotOffset(ulong sequence) => _offset + (1 + (long)(sequence % (ulong)_slots)) * L.SlotBytes;

    private static uint RecordCrc(ReadOnlySpan<byte> slot, int count)
    {
        uint crc = L.Crc32C(slot[..L.RecordCrc]);
        crc = L.Crc32C([0, 0, 0, 0], crc);
        return L.Finish(L.Crc32C(slot.Slice(L.RecordEntries, count * L.EntryBytes), crc));
    }

    private static byte[] HeaderBytes(int slots, ulong nonce)
    {
        var h = new byte[Sector.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(L.HeaderMagic), L.HeaderMagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(L.HeaderVersion), L.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(L.HeaderSlotCount), (uint)slots);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(L.HeaderSlotBytes), L.SlotBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(L.HeaderNonce), nonce);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(L.HeaderCrc), L.Finish(L.Crc32C(h.AsSpan(0, L.HeaderCrc))));
        return h;
    }
}
