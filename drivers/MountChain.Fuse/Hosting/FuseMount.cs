using MountChain.Fuse.Kernel;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Hosting;

/// <summary>
/// One mounted <see cref="IFileTree"/>. <see cref="Mount"/> makes the kernel mount through the
/// chosen transport (the directory shows the tree as soon as <see cref="Run"/> serves requests);
/// <see cref="Run"/> serves until the mount goes away; <see cref="RequestStop"/> (any thread,
/// e.g. a SIGTERM handler) unmounts so that the loop ends.
/// </summary>
public sealed class FuseMount : IDisposable
{
    /// <summary>Environment override of <see cref="FuseTransport.Auto"/>: "uring", "kernel" or "libfuse".</summary>
    public const string TransportVariable = "MOUNTCHAIN_FUSE_TRANSPORT";

    private readonly IFuseSession _session;
    private readonly ManualResetEventSlim _finished = new(false);
    private int _runState; // 0 = not started, 1 = running, 2 = finished

    private FuseMount(IFuseSession session) => _session = session;

    public string MountPoint => _session.MountPoint;

    /// <summary>The kernel's FUSE connection number (/sys/fs/fuse/connections/N), when known.</summary>
    public int? ConnectionId => _session.ConnectionId;

    /// <summary>"io_uring" or "kernel" (our protocol on /dev/fuse, over io_uring or a read/write loop), or "libfuse".</summary>
    public string Transport => _session.TransportName;

    /// <summary>The loop's return value once <see cref="Run"/> has finished.</summary>
    public int ExitStatus { get; private set; }

    public static bool IsSupported =>
        OperatingSystem.IsLinux() && File.Exists("/dev/fuse") && (KernelFuseSession.CanMount || LibFuseSession.IsAvailable);

    /// <summary>The transport <see cref="FuseTransport.Auto"/> resolves to here and now.</summary>
    public static FuseTransport Resolve(FuseTransport requested)
    {
        if (requested != FuseTransport.Auto) return requested;
        var forced = Environment.GetEnvironmentVariable(TransportVariable);
        if (string.Equals(forced, "libfuse", StringComparison.OrdinalIgnoreCase)) return FuseTransport.LibFuse;
        if (string.Equals(forced, "kernel", StringComparison.OrdinalIgnoreCase)) return FuseTransport.Kernel;
        if (string.Equals(forced, "uring", StringComparison.OrdinalIgnoreCase)) return FuseTransport.IoUring;
        return KernelFuseSession.CanMount ? FuseTransport.IoUring : FuseTransport.LibFuse;
    }

    public static FuseMount Mount(IFileTree tree, string mountPoint, FuseMountOptions? options = null)
    {
        options ??= new FuseMountOptions();
        mountPoint = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        CheckMountPoint(mountPoint);
        var transport = Resolve(options.Transport);
        IFuseSession session = transport switch
        {
            FuseTransport.Kernel or FuseTransport.IoUring when !KernelFuseSession.CanMount =>
                throw new IOException($"{mountPoint}: our FUSE transport needs root (mount(2)); use the libfuse transport"),
            FuseTransport.Kernel or FuseTransport.IoUring =>
                KernelFuseSession.Mount(tree, mountPoint, options, wantIoUring: transport == FuseTransport.IoUring),
            _ => LibFuseSession.Mount(tree, mountPoint, options),
        };
        return new FuseMount(session);
    }

    /// <summary>Serves requests on the calling thread until the file system is unmounted or stopped, then releases the session.</summary>
    public int Run()
    {
        if (Interlocked.CompareExchange(ref _runState, 1, 0) != 0)
            throw new InvalidOperationException("the mount is already running");
        try
        {
            ExitStatus = _session.Run();
        }
        finally
        {
            Volatile.Write(ref _runState, 2);
            _finished.Set();
        }
        return ExitStatus;
    }

    /// <summary>Runs <see cref="Run"/> on a dedicated thread.</summary>
    public Thread Start()
    {
        var thread = new Thread(() => Run()) { IsBackground = true, Name = "fuse-loop " + MountPoint };
        thread.Start();
        return thread;
    }

    /// <summary>
    /// Asks the loop to end by unmounting. A busy mount (open files, a loop device on disk.raw) is
    /// detached lazily and, for root, its connection aborted so that the server can exit.
    /// </summary>
    public void RequestStop() => _session.RequestStop();

    public bool WaitForExit(TimeSpan timeout) => _finished.Wait(timeout);

    public void Dispose()
    {
        if (Volatile.Read(ref _runState) == 0 && Interlocked.CompareExchange(ref _runState, 2, 0) == 0)
        {
            // Mounted but never served: nothing else can be using the session.
            _session.Abandon();
            _finished.Set();
            return;
        }
        RequestStop();
        _finished.Wait();
    }

    private static void CheckMountPoint(string mountPoint)
    {
        try
        {
            if (!Directory.Exists(mountPoint))
                throw new DirectoryNotFoundException($"{mountPoint}: no such directory (the mount point must exist)");
        }
        catch (IOException e) when (e is not DirectoryNotFoundException)
        {
            throw new IOException($"{mountPoint}: {e.Message} (a stale mount? run 'mountchain unmount {mountPoint}')");
        }
        if (MountTable.Find(mountPoint) is { FileSystemType: var type } && type.StartsWith("fuse", StringComparison.Ordinal))
            throw new IOException($"{mountPoint}: already a FUSE mount point ({type}); run 'mountchain unmount {mountPoint}' first");
    }
}
