namespace MountChain.Fuse.Hosting;

/// <summary>How a FUSE mount talks to the kernel.</summary>
public enum FuseTransport
{
    /// <summary>
    /// <see cref="IoUring"/> when we may call mount(2) (root), libfuse otherwise.
    /// MOUNTCHAIN_FUSE_TRANSPORT=uring|kernel|libfuse overrides.
    /// </summary>
    Auto,
    /// <summary>Our own FUSE protocol on /dev/fuse, served by a read(2)/write(2) loop per thread: no libfuse, no per-request allocation.</summary>
    Kernel,
    /// <summary>Our own protocol over FUSE-over-io_uring where the kernel offers it (fuse.enable_uring=1), else <see cref="Kernel"/>'s loop.</summary>
    IoUring,
    /// <summary>libfuse 3's multithreaded loop (also mounts for non-root users through fusermount3).</summary>
    LibFuse,
}
