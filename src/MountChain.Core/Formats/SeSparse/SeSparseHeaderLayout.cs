namespace MountChain.Core.Formats.SeSparse;

/// <summary>Byte positions of the SESparse constant header (format doc §5.1: 26 × u64 + pad) and volatile header (§5.2).</summary>
internal static class SeSparseHeaderLayout
{
    public const int Magic = 0;
    public const int Version = Magic + 8;
    public const int Capacity = Version + 8;
    public const int GrainSize = Capacity + 8;
    public const int GrainTableSize = GrainSize + 8;
    public const int Flags = GrainTableSize + 8;
    public const int Reserved1 = Flags + 8;
    public const int ReservedCount = 4;
    public const int VolatileHeaderOffset = Reserved1 + ReservedCount * 8;
    public const int VolatileHeaderSize = VolatileHeaderOffset + 8;
    public const int JournalHeaderOffset = VolatileHeaderSize + 8;
    public const int JournalHeaderSize = JournalHeaderOffset + 8;
    public const int JournalOffset = JournalHeaderSize + 8;
    public const int JournalSize = JournalOffset + 8;
    public const int GrainDirOffset = JournalSize + 8;
    public const int GrainDirSize = GrainDirOffset + 8;
    public const int GrainTablesOffset = GrainDirSize + 8;
    public const int GrainTablesSize = GrainTablesOffset + 8;
    public const int FreeBitmapOffset = GrainTablesSize + 8;
    public const int FreeBitmapSize = FreeBitmapOffset + 8;
    public const int BackmapOffset = FreeBitmapSize + 8;
    public const int BackmapSize = BackmapOffset + 8;
    public const int GrainsOffset = BackmapSize + 8;
    public const int GrainsSize = GrainsOffset + 8;
    public const int Pad = GrainsSize + 8; // 208
    public const int Size = 512;

    public const ulong MagicValue = 0x00000000CAFEBABE;
    /// <summary>"2.1", the only version qemu (and so anyone we can check against) reads.</summary>
    public const ulong VersionValue = 0x0000000200000001;
    public const ulong RequiredGrainSize = 8;
    public const ulong RequiredGrainTableSize = 64;

    // Volatile header (§5.2)
    public const int VolatileMagic = 0;
    public const int FreeGtNumber = VolatileMagic + 8;
    public const int NextTxnSeqNumber = FreeGtNumber + 8;
    public const int ReplayJournal = NextTxnSeqNumber + 8;
    public const int VolatilePad = ReplayJournal + 8;
    public const ulong VolatileMagicValue = 0x00000000CAFECAFE;

    /// <summary>Entries of a grain table: 64 sectors of u64 = 4096 (16 MiB of 4 KiB grains).</summary>
    public const int GtEntries = (int)(RequiredGrainTableSize * Sector.Size / 8);
    public const int GtBytes = GtEntries * 8;

    /// <summary>Capacity bound from qemu's source: 4 194 304 GD entries × 16 MiB, just under 64 TiB (§5.4).</summary>
    public const long MaxGdEntries = 4L * 1024 * 1024;

    /// <summary>GD entry of an allocated table: top 32 bits exactly 0x10000000, low 32 bits the GT index (§5.3).</summary>
    public const ulong GdAllocatedTag = 0x1000000000000000;
}
