using System.Buffers.Binary;
using System.Numerics;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// Byte positions of our intent journal (format doc §2.10, *ours*): a header sector, then fixed
/// 4 KiB slots each holding one intent record. Every field is built from the one before it.
/// </summary>
internal static class IntentJournalLayout
{
    // ---- header (first sector of the region) ----
    public const int HeaderMagic = 0x00;            // u64 "MCINTENT"
    public const int HeaderVersion = HeaderMagic + 8;  // u32, 1
    public const int HeaderSlotCount = HeaderVersion + 4; // u32
    public const int HeaderSlotBytes = HeaderSlotCount + 4; // u32, 4096
    public const int HeaderReserved = HeaderSlotBytes + 4; // u32, 0
    public const int HeaderNonce = HeaderReserved + 4;  // u64: the session whose records count; 0 = none
    public const int HeaderCrc = HeaderNonce + 8;      // u32 CRC32C of the bytes before it
    public const int HeaderBytes = HeaderCrc + 4;

    // ---- record (one per slot) ----
    public const int RecordMagic = 0x00;             // u64 "MCINTREC"
    public const int RecordNonce = RecordMagic + 8;   // u64, must equal the header's
    public const int RecordSequence = RecordNonce + 8; // u64, 1, 2, … per session; slot = sequence mod slots
    public const int RecordCount = RecordSequence + 8; // u32 entries
    public const int RecordCrc = RecordCount + 4;     // u32 CRC32C of the header (this field as 0) and the entries
    public const int RecordEntries = RecordCrc + 4;

    // ---- entry ----
    public const int EntryGrain = 0x00;              // u32 grain index in the extent
    public const int EntrySector = EntryGrain + 4;    // u32 file sector of the grain (its GTE)
    public const int EntryDataCrc = EntrySector + 4;  // u32 CRC32C of the whole grain as flushed
    public const int EntryReserved = EntryDataCrc + 4; // u32, 0
    public const int EntryBytes = EntryReserved + 4;

    public const ulong HeaderMagicValue = 0x544E45544E49434D; // "MCINTENT"
    public const ulong RecordMagicValue = 0x434552544E49434D; // "MCINTREC"
    public const uint Version = 1;
    public const int SlotBytes = 4096;
    /// <summary>Slots of a journal we create; recovery needs only the last two (§2.10), the rest is margin.</summary>
    public const int SlotCount = 15;
    /// <summary>Sectors of the region: one 4 KiB block for the header, then the slots.</summary>
    public const long RegionSectors = (SlotBytes + SlotCount * SlotBytes) / Sector.Size;
    /// <summary>The region starts at the first 4 KiB boundary after the grain tables.</summary>
    public const long AlignSectors = SlotBytes / Sector.Size;
    public const int MaxEntries = (SlotBytes - RecordEntries) / EntryBytes;

    /// <summary>CRC32C (Castagnoli, hardware where the CPU has it), seed ~0, final inversion.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data, uint crc = ~0u)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    public static uint Finish(uint crc) => ~crc;

    public static long RegionStartAfter(long tablesEndSector) => (tablesEndSector + AlignSectors - 1) / AlignSectors * AlignSectors;
}
