namespace MountChain.FileSystems.Volumes;

/// <summary>GPT header and entry field offsets (UEFI spec 2.10 §5.3.2 table 5-5, §5.3.3 table 5-6).</summary>
internal static class GptLayout
{
    public static ReadOnlySpan<byte> Signature => "EFI PART"u8;
    public const int SignatureOffset = 0;
    public const int HeaderSizeOffset = 12;
    public const int HeaderCrcOffset = 16;
    public const int MyLbaOffset = 24;
    public const int AlternateLbaOffset = 32;
    public const int FirstUsableLbaOffset = 40;
    public const int LastUsableLbaOffset = 48;
    public const int EntriesLbaOffset = 72;
    public const int EntryCountOffset = 80;
    public const int EntrySizeOffset = 84;
    public const int EntriesCrcOffset = 88;
    public const int MinHeaderSize = 92;

    public const int EntryTypeGuid = 0;
    public const int EntryUniqueGuid = 16;
    public const int EntryFirstLba = 32;
    public const int EntryLastLba = 40;
    public const int EntryName = 56;
    public const int EntryNameBytes = 72;
    public const int MinEntrySize = 128;

    /// <summary>Sanity bound: the spec's minimum array is 128 entries; tools never write more than a few thousand.</summary>
    public const int MaxEntries = 16384;
    public const int MaxEntrySize = 4096;
}

/// <summary>MBR / EBR field offsets (the classic PC partition table).</summary>
internal static class MbrLayout
{
    public const int TableOffset = 446;
    public const int EntrySize = 16;
    public const int StatusOffset = 0;
    public const int TypeOffset = 4;
    public const int StartLbaOffset = 8;
    public const int SectorCountOffset = 12;
    public const int SignatureOffset = 510;
    public const byte ProtectiveGpt = 0xEE;
    /// <summary>Logical partitions beyond this are refused (Linux itself stops far earlier in practice).</summary>
    public const int MaxLogical = 256;

    public static bool IsExtended(byte type) => type is 0x05 or 0x0F or 0x85;
}
