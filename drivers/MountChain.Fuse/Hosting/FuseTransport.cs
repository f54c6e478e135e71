namespace MountChain.Fuse.Hosting;

/// <summary>How a FUSE mount talks to the kernel.</summary>
public enum FuseTransport
{
    /// <summary>Our own protocol on /dev/fuse when we may call mount(2) (root); libfuse otherwise. MOUNTCHAIN_FUSE_TRANSPORT=kernel|libfuse overrides.</summary>
    Auto,
    /// <summary>The FUSE protocol spoken on /dev/fuse by our own request loop: no libfuse, no per-request allocation.</summary>
    Kernel,
    /// <summary>libfuse 3's multithreaded loop (also mounts for non-root users through fusermount3).</summary>
    LibFuse,
}
