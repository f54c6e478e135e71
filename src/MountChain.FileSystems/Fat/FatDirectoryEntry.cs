namespace MountChain.FileSystems.Fat;

/// <summary>One live entry of a FAT directory: its long name (or 8.3 name), the 8.3 name, and the short entry's fields.</summary>
internal sealed record FatDirectoryEntry(
    string Name,
    string ShortName,
    byte Attributes,
    uint FirstCluster,
    uint Size,
    long Position,
    DateTimeOffset? Modified,
    DateTimeOffset? Accessed,
    DateTimeOffset? Created)
{
    public const byte ReadOnly = 0x01, Hidden = 0x02, System = 0x04, VolumeLabel = 0x08, Directory = 0x10, Archive = 0x20;
    public const byte LongNameMarker = 0x0F;

    public bool IsDirectory => (Attributes & Directory) != 0;
}

/// <summary>A directory's entries and, for the root, the volume label entry's text.</summary>
internal sealed record FatDirectoryListing(IReadOnlyList<FatDirectoryEntry> Entries, string? Label);
