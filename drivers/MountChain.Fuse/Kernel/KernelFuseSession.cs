using System.Runtime.InteropServices;
using MountChain.Fuse.Hosting;
using MountChain.Fuse.Lifecycle;
using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

using MountChain.Mounting.Hosting;

using MountChain.Mounting.Lifecycle;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// A FUSE mount served by speaking the kernel protocol on /dev/fuse ourselves: no libfuse, no
/// path layer, no per-request allocation. The mount is made with mount(2) (root), each worker
/// thread reads requests from its own cloned descriptor (FUSE_DEV_IOC_CLONE, so replies never
/// contend on one queue) into a buffer it owns, and answers with a single write(2) (large reads:
/// gathered from mapped page-cache pages, <see cref="GatherReplier"/>).
/// Lifecycle: <see cref="Mount"/> mounts; <see cref="Run"/> answers INIT then serves until the
/// mount goes away (unmount, abort) — reads then fail with ENODEV; <see cref="RequestStop"/>
/// (any thread) unmounts, lazily and with a connection abort when busy.
/// </summary>
internal sealed unsafe class KernelFuseSession : IFuseSession
{
    private readonly int _fd;
    private readonly FuseRequestDispatcher _dispatcher;
    private readonly FuseMountOptions _options;
    private readonly int _maxWrite;
    private readonly FileMappings _mappings = new();
    private int _stopRequested;
    private int _closed;

    private KernelFuseSession(int fd, FuseRequestHandler handler, FuseMountOptions options, string mountPoint, bool wantIoUring)
    {
        _fd = fd;
        _options = options;
        _maxWrite = options.MaxRead;
        _dispatcher = new FuseRequestDispatcher(handler, _maxWrite) { WantIoUring = wantIoUring };
        MountPoint = mountPoint;
        ConnectionId = MountTable.Find(mountPoint)?.DeviceMinor;
    }

    public string MountPoint { get; }
    public int? ConnectionId { get; }

    /// <summary>"io_uring" once INIT agreed on it, else "kernel" (the read/write loop).</summary>
    public string TransportName => _dispatcher.IoUringAgreed ? "io_uring" : "kernel";

    /// <summary>Entries per io_uring queue: requests one CPU's callers may have in flight at once.</summary>
    private const int RingDepth = 8;

    /// <summary>mount(2) needs CAP_SYS_ADMIN; other users go through libfuse's fusermount3.</summary>
    public static bool CanMount => OperatingSystem.IsLinux() && File.Exists("/dev/fuse") && LibC.GetEffectiveUid() == 0;

    public static KernelFuseSession Mount(IFileTree tree, string mountPoint, FuseMountOptions options, bool wantIoUring)
    {
        int fd = KernelCalls.Open("/dev/fuse", KernelCalls.ReadWrite | KernelCalls.CloseOnExec);
        if (fd < 0)
            throw new IOException($"/dev/fuse: cannot open: {KernelCalls.ErrorText(Marshal.GetLastPInvokeError())}");
        try
        {
            var data = new List<string>
            {
                "fd=" + fd,
                "rootmode=40000",
                "user_id=" + LibC.GetEffectiveUid(),
                "group_id=" + LibC.GetEffectiveGid(),
                "max_read=" + options.MaxRead,
                // The kernel checks permissions from our modes: no ACCESS round trips.
                "default_permissions",
            };
            if (options.AllowOther) data.Add("allow_other");
            ulong flags = KernelCalls.MountNoSuid | KernelCalls.MountNoDev | (tree.CanWrite ? 0 : KernelCalls.MountReadOnly);
            string source = options.SourceName.Replace(",", "_");
            if (KernelCalls.Mount(source, mountPoint, "fuse.mountchain", flags, string.Join(',', data)) != 0)
                throw new IOException($"{mountPoint}: cannot mount: {KernelCalls.ErrorText(Marshal.GetLastPInvokeError())}");
            return new KernelFuseSession(fd, new FuseRequestHandler(tree, options), options, mountPoint, wantIoUring);
        }
        catch
        {
            KernelCalls.Close(fd);
            throw;
        }
    }

    public int Run()
    {
        var buffers = new RequestBuffers(_maxWrite, _mappings);
        try
        {
            // INIT comes first and alone; only after our answer does the kernel send anything else.
            while (!_dispatcher.Initialised)
                if (!ServeOne(_fd, buffers)) return 0;
        }
        finally { if (!_dispatcher.Initialised) buffers.Dispose(); }

        var threads = new List<Thread>();
        var queues = new List<FuseRingQueue>();
        // With io_uring the rings carry the requests once every queue is registered; /dev/fuse still
        // carries what comes before that and what the kernel never puts on a ring (interrupts, forgets).
        // The /dev/fuse workers start first: the first requests after INIT (a launcher checking the
        // mount) are served while the rings are still being set up and registered.
        int workers = _dispatcher.IoUringAgreed ? 2 : Math.Max(1, _options.MaxIdleThreads);
        for (int i = 1; i < workers; i++)
        {
            int clone = CloneDescriptor();
            if (clone < 0) break; // older kernels: the others share the session descriptor
            var thread = new Thread(() => Serve(clone, owned: true)) { IsBackground = true, Name = $"fuse-{i} {MountPoint}" };
            thread.Start();
            threads.Add(thread);
        }
        if (_dispatcher.IoUringAgreed)
        {
            // Until every queue is registered the kernel keeps using /dev/fuse: a ring that cannot
            // be set up leaves the session on the read/write loop, not broken.
            try { StartRings(queues, threads); }
            catch (IOException e) { _options.ErrorLog?.WriteLine($"mountchain: FUSE over io_uring unavailable ({e.Message}); serving on /dev/fuse"); }
        }
        try { ServeLoop(_fd, buffers); }
        finally { buffers.Dispose(); }
        foreach (var thread in threads) thread.Join();
        foreach (var queue in queues) queue.Dispose();
        _mappings.Dispose();
        _dispatcher.ReleaseAll();
        Close();
        return 0;
    }

    private void StartRings(List<FuseRingQueue> queues, List<Thread> threads)
    {
        int payload = Math.Max(FuseConstants.MinReadBuffer, _maxWrite) + 4096;
        int count = FuseRingQueue.QueueCount();
        for (int q = 0; q < count; q++)
        {
            var queue = new FuseRingQueue(_fd, (ushort)q, RingDepth, payload, _dispatcher);
            queues.Add(queue);
            var thread = new Thread(queue.Run) { IsBackground = true, Name = $"fuse-ring-{q} {MountPoint}" };
            thread.Start();
            threads.Add(thread);
        }
    }

    public void RequestStop()
    {
        if (Interlocked.Exchange(ref _stopRequested, 1) != 0) return;
        var result = Unmounter.Unmount(MountPoint, lazy: false);
        if (result.Outcome is UnmountOutcome.Unmounted or UnmountOutcome.NotMounted) return;
        Unmounter.Unmount(MountPoint, lazy: true);
        if (ConnectionId is int id) Unmounter.AbortConnection(id);
    }

    /// <summary>Mounted but never served: unmount and let go of the descriptor.</summary>
    public void Abandon()
    {
        RequestStop();
        Close();
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0) KernelCalls.Close(_fd);
    }

    private int CloneDescriptor()
    {
        int clone = KernelCalls.Open("/dev/fuse", KernelCalls.ReadWrite | KernelCalls.CloseOnExec);
        if (clone < 0) return -1;
        uint session = (uint)_fd;
        if (KernelCalls.Ioctl(clone, FuseConstants.DevIocClone, &session) != 0)
        {
            KernelCalls.Close(clone);
            return -1;
        }
        return clone;
    }

    private void Serve(int fd, bool owned)
    {
        using var buffers = new RequestBuffers(_maxWrite, _mappings);
        try { ServeLoop(fd, buffers); }
        finally { if (owned) KernelCalls.Close(fd); }
    }

    private void ServeLoop(int fd, RequestBuffers buffers)
    {
        while (ServeOne(fd, buffers)) { }
    }

    /// <summary>Reads one request and answers it; false once the connection is gone.</summary>
    private bool ServeOne(int fd, RequestBuffers buffers)
    {
        nint n = KernelCalls.Read(fd, buffers.Request, (nuint)buffers.RequestSize);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            // ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: try again.
            return errno is KernelCalls.ENOENT or KernelCalls.EINTR or KernelCalls.EAGAIN;
        }
        if (n < sizeof(FuseInHeader)) return n != 0;
        if (_dispatcher.TryGatherRead(buffers.Request, (int)n, fd, buffers.Gather))
            return !_dispatcher.Destroyed;
        int length = _dispatcher.Dispatch(buffers.Request, (int)n, buffers.Reply, buffers.ReplySize);
        if (length > 0)
        {
            // ENOENT here means the kernel gave up on the request (interrupted): nothing to do.
            KernelCalls.Write(fd, buffers.Reply, (nuint)length);
        }
        return !_dispatcher.Destroyed;
    }

    /// <summary>One worker's page-aligned request and reply buffers (native memory: never moved, never collected).</summary>
    private sealed class RequestBuffers : IDisposable
    {
        public RequestBuffers(int maxIo, FileMappings mappings)
        {
            // A request is a header, the largest argument struct and up to max_write bytes of data.
            RequestSize = Math.Max(FuseConstants.MinReadBuffer, maxIo + 4096);
            ReplySize = maxIo + 4096;
            Request = (byte*)NativeMemory.AlignedAlloc((nuint)RequestSize, 4096);
            Reply = (byte*)NativeMemory.AlignedAlloc((nuint)ReplySize, 4096);
            Gather = new GatherReplier(mappings);
        }

        /// <summary>Large READs of files that can name their bytes go out through this.</summary>
        public GatherReplier Gather { get; }

        public byte* Request { get; }
        public byte* Reply { get; }
        public int RequestSize { get; }
        public int ReplySize { get; }

        public void Dispose()
        {
            NativeMemory.AlignedFree(Request);
            NativeMemory.AlignedFree(Reply);
            Gather.Dispose();
        }
    }
}
