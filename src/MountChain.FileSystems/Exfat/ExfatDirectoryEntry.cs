namespace MountChain.FileSystems.Exfat;

/// <summary>One file or directory of an exFAT directory: its File, Stream Extension and File Name entries combined.</summary>
internal sealed record ExfatDirectoryEntry(
    string Name,
    ushort Attributes,
    uint FirstCluster,
    ulong DataLength,
    ulong ValidDataLength,
    bool NoFatChain,
    long Position,
    DateTimeOffset? Created,
    DateTimeOffset? Modified,
    DateTimeOffset? Accessed)
{
    public const ushort ReadOnly = 0x01, Directory = 0x10;
    public bool IsDirectory => (Attributes & Directory) != 0;
}

/// <summary>An entry of the root directory that describes the volume (bitmap, up-case table), not a file.</summary>
internal readonly record struct ExfatVolumeStructure(byte Type, byte Flags, uint Checksum, uint FirstCluster, ulong DataLength);

/// <summary>A directory's files, and for the root its volume structures and label.</summary>
internal sealed record ExfatDirectoryListing(IReadOnlyList<ExfatDirectoryEntry> Entries, IReadOnlyList<ExfatVolumeStructure> Structures, string? Label);
