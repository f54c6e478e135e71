using System.Runtime.InteropServices;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Hosting;
using MountChain.Mounting.Lifecycle;
using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Hosting;

/// <summary>
/// One mounted <see cref="IFileTree"/>. <see cref="Mount"/> creates the libfuse session and the
/// kernel mount (the directory shows the tree as soon as <see cref="Run"/> serves requests);
/// <see cref="Run"/> serves requests on libfuse's multithreaded loop until the mount goes away;
/// <see cref="RequestStop"/> (any thread, e.g. a SIGTERM handler) unmounts so the loop ends.
/// libfuse's own signal handlers are not installed: .NET owns the process's signals.
/// </summary>
public sealed unsafe class FuseMount : IDisposable
{
    private readonly nint _fuse;
    private readonly GCHandle _handlerHandle;
    private readonly ManualResetEventSlim _finished = new(false);
    private int _runState; // 0 = not started, 1 = running, 2 = finished
    private int _stopRequested;
    private int _destroyed;

    private FuseMount(nint fuse, GCHandle handlerHandle, string mountPoint, MountEntry? entry)
    {
        _fuse = fuse;
        _handlerHandle = handlerHandle;
        MountPoint = mountPoint;
        ConnectionId = entry?.DeviceMinor;
    }

    public string MountPoint { get; }

    /// <summary>The kernel's FUSE connection number (/sys/fs/fuse/connections/N), when known.</summary>
    public int? ConnectionId { get; }

    /// <summary>The loop's return value once <see cref="Run"/> has finished.</summary>
    public int ExitStatus { get; private set; }

    public static bool IsSupported => OperatingSystem.IsLinux() && File.Exists("/dev/fuse") && LibFuse.IsAvailable();

    public static FuseMount Mount(IFileTree tree, string mountPoint, FuseMountOptions? options = null)
    {
        options ??= new FuseMountOptions();
        mountPoint = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        CheckMountPoint(mountPoint);
        if (!LibFuse.IsAvailable())
            throw new IOException($"{LibFuse.Library} not found (install the fuse3 package)");
        FuseLog.Install();
        FuseLog.TakeLast();

        var handler = new FuseRequestHandler(tree, options);
        var handlerHandle = GCHandle.Alloc(handler);
        nint fuse = 0;
        try
        {
            fuse = NewSession(tree, options, handlerHandle);
            var mp = Utf8(mountPoint);
            try
            {
                if (LibFuse.Mount(fuse, mp) != 0)
                    throw new IOException($"{mountPoint}: cannot mount: {FuseLog.TakeLast() ?? "fuse_mount failed"}");
            }
            finally { NativeMemory.Free(mp); }
            return new FuseMount(fuse, handlerHandle, mountPoint, MountTable.Find(mountPoint));
        }
        catch
        {
            if (fuse != 0) LibFuse.Destroy(fuse);
            handlerHandle.Free();
            throw;
        }
    }

    /// <summary>Serves requests on the calling thread until the file system is unmounted or stopped, then releases the session.</summary>
    public int Run()
    {
        if (Interlocked.CompareExchange(ref _runState, 1, 0) != 0)
            throw new InvalidOperationException("the mount is already running");
        try
        {
            nint config = LibFuse.LoopConfigCreate();
            try
            {
                var options = ((FuseRequestHandler)_handlerHandle.Target!).Options;
                // One /dev/fuse descriptor per thread: no contention on a single fd's queue.
                LibFuse.LoopConfigSetCloneFd(config, 1);
                LibFuse.LoopConfigSetMaxThreads(config, (uint)options.MaxThreads);
                LibFuse.LoopConfigSetIdleThreads(config, (uint)options.MaxIdleThreads);
                ExitStatus = LibFuse.LoopMultiThreaded(_fuse, config);
            }
            finally { LibFuse.LoopConfigDestroy(config); }
        }
        finally
        {
            Teardown();
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
    public void RequestStop()
    {
        if (Interlocked.Exchange(ref _stopRequested, 1) != 0) return;
        var result = Unmounter.Unmount(MountPoint, lazy: false);
        if (result.Outcome is UnmountOutcome.Unmounted or UnmountOutcome.NotMounted) return;
        LibFuse.Exit(_fuse);
        Unmounter.Unmount(MountPoint, lazy: true);
        if (ConnectionId is int id) Unmounter.AbortConnection(id);
    }

    public bool WaitForExit(TimeSpan timeout) => _finished.Wait(timeout);

    public void Dispose()
    {
        if (Volatile.Read(ref _runState) == 0 && Interlocked.CompareExchange(ref _runState, 2, 0) == 0)
        {
            // Mounted but never served: nothing else can be using the session.
            Teardown();
            _finished.Set();
            return;
        }
        RequestStop();
        _finished.Wait();
    }

    private void Teardown()
    {
        if (Interlocked.Exchange(ref _destroyed, 1) != 0) return;
        LibFuse.Unmount(_fuse);
        LibFuse.Destroy(_fuse);
        _handlerHandle.Free();
    }

    private static nint NewSession(IFileTree tree, FuseMountOptions options, GCHandle handlerHandle)
    {
        var mountOptions = new List<string>
        {
            "fsname=" + options.SourceName.Replace(",", "_").Replace("\\", "_"),
            "subtype=mountchain",
            // Must match conn->max_read set in init (see FuseCallbacks.Init).
            "max_read=" + options.MaxRead,
            // The kernel checks permissions from our modes: no access() round trips.
            "default_permissions",
        };
        if (!tree.CanWrite) mountOptions.Add("ro");
        if (options.AllowOther) mountOptions.Add("allow_other");
        string[] argv = ["mountchain", "-o", string.Join(',', mountOptions)];

        var strings = new byte*[argv.Length + 1];
        try
        {
            for (int i = 0; i < argv.Length; i++) strings[i] = Utf8(argv[i]);
            fixed (byte** argvPointer = strings)
            {
                var args = new FuseArgs { Argc = argv.Length, Argv = argvPointer, Allocated = 0 };
                var ops = FuseCallbacks.Table();
                nint fuse = LibFuse.New(&args, &ops, (nuint)sizeof(FuseOperations), GCHandle.ToIntPtr(handlerHandle));
                // fuse_new may have replaced argv by a copy it allocated; that copy is freed here, ours below.
                LibFuse.FreeArgs(&args);
                if (fuse == 0)
                    throw new IOException($"cannot start FUSE: {FuseLog.TakeLast() ?? "fuse_new failed"}");
                return fuse;
            }
        }
        finally
        {
            foreach (var s in strings) if (s != null) NativeMemory.Free(s);
        }
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

    private static byte* Utf8(string s)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        System.Text.Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }
}
