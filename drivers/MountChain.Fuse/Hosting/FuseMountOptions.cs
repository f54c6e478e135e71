namespace MountChain.Fuse.Hosting;

/// <summary>How a tree is mounted through FUSE.</summary>
public sealed record FuseMountOptions
{
    /// <summary>Let other users see the mount (-o allow_other; needs root or user_allow_other in /etc/fuse.conf).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Bypass the page cache for files (FOPEN_DIRECT_IO): no double caching, and 1 MiB requests.</summary>
    public bool DirectIo { get; init; } = true;

    /// <summary>Keep the page cache of a file across opens (FOPEN_KEEP_CACHE): right for content that cannot change under the mount. Ignored with <see cref="DirectIo"/>.</summary>
    public bool KeepCache { get; init; }

    /// <summary>Largest read request, in bytes; passed both as -o max_read and conn->max_read (libfuse insists they agree).</summary>
    public int MaxRead { get; init; } = 1 << 20;

    /// <summary>Upper bound on request threads (fuse_loop_cfg_set_max_threads).</summary>
    public int MaxThreads { get; init; } = Math.Max(16, 4 * Environment.ProcessorCount);

    /// <summary>Threads kept waiting for requests when idle.</summary>
    public int MaxIdleThreads { get; init; } = Math.Max(8, 2 * Environment.ProcessorCount);

    /// <summary>How long the kernel may cache names and attributes.</summary>
    public TimeSpan AttributeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Name shown in /proc/mounts and df (fsname=).</summary>
    public string SourceName { get; init; } = "mountchain";

    /// <summary>Our own /dev/fuse protocol or libfuse's loop (see <see cref="FuseTransport"/>).</summary>
    public FuseTransport Transport { get; init; } = FuseTransport.Auto;

    /// <summary>Write unexpected I/O errors here (null: keep quiet).</summary>
    public TextWriter? ErrorLog { get; init; }
}
