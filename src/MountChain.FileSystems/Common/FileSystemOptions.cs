namespace MountChain.FileSystems.Common;

/// <summary>How a reader treats damage it can work around (today: ext4 metadata_csum mismatches).</summary>
public sealed record FileSystemOptions
{
    public static FileSystemOptions Default { get; } = new();

    /// <summary>A metadata checksum mismatch is a corruption error; by default it is a warning and the structure is used, as e2fsck -n shows it.</summary>
    public bool StrictChecksums { get; init; }

    /// <summary>The volume's name ("p3", "p3/vg0-root") for error messages, or empty.</summary>
    public string VolumeName { get; init; } = "";

    /// <summary>Receives each distinct warning once, as it is found (e.g. "ext inode 12: metadata checksum mismatch").</summary>
    public Action<string>? Warning { get; init; }
}
