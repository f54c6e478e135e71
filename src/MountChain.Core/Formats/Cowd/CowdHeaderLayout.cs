namespace MountChain.Core.Formats.Cowd;

/// <summary>Byte positions of the vmfsSparse (COWD) header fields (format doc §4.1), each built from the one before.</summary>
internal static class CowdHeaderLayout
{
    public const int Magic = 0;
    public const int Version = Magic + 4;
    public const int Flags = Version + 4;
    public const int NumSectors = Flags + 4;
    public const int GrainSize = NumSectors + 4;
    public const int GdOffset = GrainSize + 4;
    public const int NumGdEntries = GdOffset + 4;
    public const int FreeSector = NumGdEntries + 4;
    /// <summary>Union of the root geometry (12 bytes) and the child's parentFileName/parentGeneration (1028 bytes).</summary>
    public const int Union = FreeSector + 4;
    public const int UnionSize = 1024 + 4;
    public const int Generation = Union + UnionSize;
    public const int Name = Generation + 4;
    public const int NameSize = 60;
    public const int Description = Name + NameSize;
    public const int DescriptionSize = 512;
    /// <summary>0x664: DiscUtils reads it 4 bytes early (§4.1) — these offsets follow TN50's struct.</summary>
    public const int SavedGeneration = Description + DescriptionSize;
    public const int Reserved = SavedGeneration + 4;
    /// <summary>0x670 (§4.1, §10.2 item 15).</summary>
    public const int UncleanShutdown = Reserved + 8;
    public const int Size = 2048;

    /// <summary>"COWD" as a little-endian u32.</summary>
    public const uint MagicValue = 0x44574F43;

    /// <summary>Grain table entries per table: fixed at 4096 (TN50 COW_NUM_LEAF_ENTRIES, §4.2).</summary>
    public const int GtEntries = 4096;
    public const int GtBytes = GtEntries * 4;

    /// <summary>Largest grain we accept: TN50 allows up to 1 MiB (2048 sectors).</summary>
    public const uint MaxGrainSectors = 2048;
}
