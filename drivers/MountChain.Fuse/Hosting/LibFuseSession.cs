using System.Runtime.InteropServices;
using MountChain.Fuse.Lifecycle;
using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

using MountChain.Mounting.Hosting;

using MountChain.Mounting.Lifecycle;

namespace MountChain.Fuse.Hosting;

/// <summary>
/// A mount served through libfuse's multithreaded loop (the fallback transport: non-root users,
/// whose mounts need the setuid fusermount3 that libfuse drives). libfuse's own signal handlers
/// are not installed: .NET owns the process's signals.
/// </summary>
internal sealed unsafe class LibFuseSession : IFuseSession
{
    private readonly nint _fuse;
    private readonly GCHandle _handlerHandle;
    private readonly FuseMountOptions _options;
    private int _stopRequested;
    private int _destroyed;

    private LibFuseSession(nint fuse, GCHandle handlerHandle, FuseMountOptions options, string mountPoint)
    {
        _fuse = fuse;
        _handlerHandle = handlerHandle;
        _options = options;
        MountPoint = mountPoint;
        ConnectionId = MountTable.Find(mountPoint)?.DeviceMinor;
    }

    public string MountPoint { get; }
    public int? ConnectionId { get; }
    public string TransportName => "libfuse";

    public static bool IsAvailable => LibFuse.IsAvailable();

    public static LibFuseSession Mount(IFileTree tree, string mountPoint, FuseMountOptions options)
    {
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
            return new LibFuseSession(fuse, handlerHandle, options, mountPoint);
        }
        catch
        {
            if (fuse != 0) LibFuse.Destroy(fuse);
            handlerHandle.Free();
            throw;
        }
    }

    public int Run()
    {
        try
        {
            nint config = LibFuse.LoopConfigCreate();
            try
            {
                // One /dev/fuse descriptor per thread: no contention on a single fd's queue.
                LibFuse.LoopConfigSetCloneFd(config, 1);
                LibFuse.LoopConfigSetMaxThreads(config, (uint)_options.MaxThreads);
                LibFuse.LoopConfigSetIdleThreads(config, (uint)_options.MaxIdleThreads);
                return LibFuse.LoopMultiThreaded(_fuse, config);
            }
            finally { LibFuse.LoopConfigDestroy(config); }
        }
        finally { Teardown(); }
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

    /// <summary>Mounted but never served: nothing else can be using the session.</summary>
    public void Abandon() => Teardown();

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

    private static byte* Utf8(string s)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        System.Text.Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }
}
