using MountChain.Mounting.Trees;

namespace MountChain.Mounting.Hosting;

/// <summary>
/// One platform's way of showing an <see cref="IFileTree"/> at a mount point: FUSE on Linux
/// (drivers/MountChain.Fuse), Dokan on Windows (drivers/MountChain.Dokan). Everything around it —
/// the detached server, readiness, the pid registry, stale mounts, waiting for a server to exit —
/// is the same on both and lives in <see cref="Lifecycle"/>; a host only mounts, serves and unmounts.
/// </summary>
public interface IMountHost
{
    /// <summary>What users call the mechanism, for messages ("FUSE", "Dokan").</summary>
    string Name { get; }

    /// <summary>Mounts <paramref name="tree"/>; the tree is visible once <see cref="IMountSession.Serve"/> runs.</summary>
    IMountSession Mount(IFileTree tree, string mountPoint, MountSettings settings);

    /// <summary>Whether something is mounted at <paramref name="mountPoint"/>, and whether it is this host's kind of mount.</summary>
    MountPointState Inspect(string mountPoint);

    /// <summary>Takes the mount down; <paramref name="lazy"/> detaches a busy mount and lets the kernel finish later.</summary>
    UnmountResult Unmount(string mountPoint, bool lazy);
}

/// <summary>A mounted tree being served.</summary>
public interface IMountSession : IDisposable
{
    string MountPoint { get; }

    /// <summary>Serves requests on the calling thread until the mount goes away.</summary>
    void Serve();

    /// <summary>Asks <see cref="Serve"/> to end by unmounting; callable from any thread (signal handlers).</summary>
    void RequestStop();
}

/// <summary>How a tree is mounted, whatever the host.</summary>
public sealed record MountSettings
{
    /// <summary>Name shown as the mount's source (df, /proc/mounts).</summary>
    public string SourceName { get; init; } = "mountchain";

    /// <summary>Let other users access the mount (FUSE allow_other; needs root or user_allow_other).</summary>
    public bool AllowOther { get; init; }

    /// <summary>
    /// The content cannot change under the mount (the read-only file tree): the host may cache file
    /// pages across opens (so mmap and exec work) and names and attributes for <see cref="AttributeTimeout"/>.
    /// </summary>
    public bool FixedContent { get; init; }

    /// <summary>How long the kernel may cache names and attributes; null = the host's default.</summary>
    public TimeSpan? AttributeTimeout { get; init; }

    /// <summary>Where unexpected I/O errors are reported (null: nowhere).</summary>
    public TextWriter? ErrorLog { get; init; }
}

/// <summary>What <see cref="IMountHost.Inspect"/> found at a mount point.</summary>
public enum MountPointKind
{
    /// <summary>Nothing is mounted there.</summary>
    NotMounted,
    /// <summary>A mount of this host's kind (or the host cannot tell, and will find out when unmounting).</summary>
    Ours,
    /// <summary>Some other file system is mounted there.</summary>
    Foreign,
}

/// <param name="FileSystemType">The mounted file system's type when known ("fuse.mountchain", "ext4").</param>
public readonly record struct MountPointState(MountPointKind Kind, string? FileSystemType = null);

/// <summary>What an unmount attempt did.</summary>
public enum UnmountOutcome { Unmounted, Busy, NotMounted, Failed }

/// <param name="Message">One line for the user (empty when unmounted).</param>
public readonly record struct UnmountResult(UnmountOutcome Outcome, string Message);
