namespace MountChain.FileSystems.Ntfs;

// Field offsets of NTFS on-disk structures. Facts from the libfsntfs "NTFS" documentation and
// ntfs-3g include/ntfs-3g/layout.h; section names below follow libfsntfs' document.

/// <summary>Boot sector (libfsntfs §3 "Volume header").</summary>
internal static class BootSectorLayout
{
    public const int OemId = 3;                  // "NTFS    "
    public const int BytesPerSector = 0x0B;      // u16
    public const int SectorsPerCluster = 0x0D;   // u8; values > 0x80 mean 2^(256 - v)
    public const int TotalSectors = 0x28;        // u64
    public const int MftLcn = 0x30;              // u64
    public const int MftMirrLcn = 0x38;          // u64
    public const int ClustersPerMftRecord = 0x40;// s8; negative: 2^-v bytes
    public const int ClustersPerIndexBlock = 0x44;// s8; negative: 2^-v bytes
    public const int SerialNumber = 0x48;        // u64
    public const int EndSignature = 0x1FE;       // 55 AA
}

/// <summary>MFT entry header (libfsntfs §4.1; layout.h MFT_RECORD).</summary>
internal static class MftRecordLayout
{
    public const uint MagicFile = 0x454C4946;    // "FILE"
    public const uint MagicBaad = 0x44414142;    // "BAAD": a multi-sector transfer failed when written
    public const int Magic = 0x00;
    public const int UsaOffset = 0x04;           // u16
    public const int UsaCount = 0x06;            // u16, includes the sequence number itself
    public const int SequenceNumber = 0x10;      // u16
    public const int LinkCount = 0x12;           // u16
    public const int FirstAttributeOffset = 0x14;// u16
    public const int Flags = 0x16;               // u16
    public const int BytesInUse = 0x18;          // u32
    public const int BytesAllocated = 0x1C;      // u32
    public const int BaseRecord = 0x20;          // u64 file reference; 0 for a base record
    public const int HeaderMinSize = 0x30;

    public const ushort FlagInUse = 0x0001;
    public const ushort FlagDirectory = 0x0002;
}

/// <summary>Attribute record header (libfsntfs §5.1; layout.h ATTR_RECORD).</summary>
internal static class AttributeLayout
{
    public const int Type = 0x00;                // u32; 0xFFFFFFFF ends the list
    public const int Length = 0x04;              // u32
    public const int NonResident = 0x08;         // u8
    public const int NameLength = 0x09;          // u8, UTF-16 units
    public const int NameOffset = 0x0A;          // u16
    public const int Flags = 0x0C;               // u16
    public const int Id = 0x0E;                  // u16
    // Resident form.
    public const int ValueLength = 0x10;         // u32
    public const int ValueOffset = 0x14;         // u16
    public const int ResidentHeaderSize = 0x18;
    // Non-resident form.
    public const int LowestVcn = 0x10;           // u64
    public const int HighestVcn = 0x18;          // u64
    public const int MappingPairsOffset = 0x20;  // u16
    public const int CompressionUnit = 0x22;     // u8, log2 of clusters
    public const int AllocatedSize = 0x28;       // u64
    public const int DataSize = 0x30;            // u64
    public const int InitializedSize = 0x38;     // u64
    public const int NonResidentHeaderSize = 0x40;

    public const ushort FlagCompressed = 0x0001;
    public const ushort FlagEncrypted = 0x4000;
    public const ushort FlagSparse = 0x8000;

    public const uint End = 0xFFFFFFFF;
}

/// <summary>Attribute type codes (libfsntfs §5.2; layout.h ATTR_TYPES).</summary>
internal static class AttributeType
{
    public const uint StandardInformation = 0x10;
    public const uint AttributeList = 0x20;
    public const uint FileName = 0x30;
    public const uint VolumeName = 0x60;
    public const uint Data = 0x80;
    public const uint IndexRoot = 0x90;
    public const uint IndexAllocation = 0xA0;
    public const uint Bitmap = 0xB0;
    public const uint ReparsePoint = 0xC0;
}

/// <summary>$STANDARD_INFORMATION value (libfsntfs §6.1).</summary>
internal static class StandardInformationLayout
{
    public const int CreationTime = 0x00;
    public const int ModificationTime = 0x08;
    public const int MftModificationTime = 0x10;
    public const int AccessTime = 0x18;
    public const int FileAttributes = 0x20;      // u32
    public const int MinSize = 0x24;
}

/// <summary>$FILE_NAME value (libfsntfs §6.3).</summary>
internal static class FileNameLayout
{
    public const int ParentReference = 0x00;
    public const int DataSize = 0x30;
    public const int FileAttributes = 0x38;
    public const int NameLength = 0x40;          // u8, UTF-16 units
    public const int Namespace = 0x41;           // 0 POSIX, 1 Win32, 2 DOS, 3 Win32 & DOS
    public const int Name = 0x42;

    public const byte NamespaceDos = 2;
}

/// <summary>$ATTRIBUTE_LIST entry (libfsntfs §6.2).</summary>
internal static class AttributeListLayout
{
    public const int Type = 0x00;                // u32
    public const int EntryLength = 0x04;         // u16
    public const int NameLength = 0x06;          // u8
    public const int NameOffset = 0x07;          // u8
    public const int LowestVcn = 0x08;           // u64
    public const int Reference = 0x10;           // u64 file reference
    public const int MinSize = 0x1A;
}

/// <summary>$INDEX_ROOT, index node header, INDX block and index entry (libfsntfs §7).</summary>
internal static class IndexLayout
{
    public const int RootIndexBlockSize = 0x08;  // u32
    public const int RootNodeHeader = 0x10;

    public const int NodeEntriesOffset = 0x00;   // u32, relative to the node header
    public const int NodeIndexLength = 0x04;     // u32, bytes in use, relative to the node header
    public const int NodeAllocatedSize = 0x08;   // u32
    public const int NodeHeaderSize = 0x10;

    public const uint MagicIndx = 0x58444E49;    // "INDX"
    public const int BlockVcn = 0x10;            // u64
    public const int BlockNodeHeader = 0x18;

    public const int EntryReference = 0x00;      // u64
    public const int EntryLength = 0x08;         // u16
    public const int EntryKeyLength = 0x0A;      // u16
    public const int EntryFlags = 0x0C;          // u16
    public const int EntryKey = 0x10;
    public const ushort EntryHasSubNode = 0x01;
    public const ushort EntryIsLast = 0x02;
}

/// <summary>Reparse point data (MS-FSCC §2.1.2) and ntfs-3g's Interix symlink file.</summary>
internal static class ReparseLayout
{
    public const int Tag = 0x00;                 // u32
    public const int DataLength = 0x04;          // u16
    public const int Data = 0x08;
    public const uint TagMountPoint = 0xA0000003;
    public const uint TagSymlink = 0xA000000C;
    public const uint TagLxSymlink = 0xA000001D;
    public const uint SymlinkFlagRelative = 1;

    /// <summary>ntfs-3g's default `ln -s`: a system file whose data is "IntxLNK\x01" + UTF-16LE target.</summary>
    public static ReadOnlySpan<byte> InterixSymlink => "IntxLNK\u0001"u8;
    public static ReadOnlySpan<byte> InterixCharDevice => "IntxCHR\0"u8;
    public static ReadOnlySpan<byte> InterixBlockDevice => "IntxBLK\0"u8;
}

/// <summary>FILE_ATTRIBUTE_* flags (MS-FSCC §2.6).</summary>
internal static class FileAttributeFlags
{
    public const uint System = 0x0004;
    public const uint ReparsePoint = 0x0400;
    public const uint Compressed = 0x0800;
    public const uint Encrypted = 0x4000;
}

/// <summary>Reserved MFT record numbers (libfsntfs §4 "Metadata files").</summary>
internal static class WellKnownRecords
{
    public const long Mft = 0;
    public const long Volume = 3;
    public const long Root = 5;
    /// <summary>Records below this are the NTFS metadata files; ntfs-3g hides them from listings.</summary>
    public const long FirstUser = 16;
}
