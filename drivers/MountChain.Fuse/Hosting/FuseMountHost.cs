using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Hosting;
using MountChain.Mounting.Lifecycle;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Hosting;

/// <summary>The Linux <see cref="IMountHost"/>: libfuse sessions (<see cref="FuseMount"/>), the kernel's mount table, umount2 / fusermount3.</summary>
public sealed class FuseMountHost : IMountHost
{
    public string Name => "FUSE";

    public IMountSession Mount(IFileTree tree, string mountPoint, MountSettings settings)
    {
        var options = new FuseMountOptions
        {
            AllowOther = settings.AllowOther,
            SourceName = settings.SourceName,
            ErrorLog = settings.ErrorLog,
        };
        // Content that cannot change: let the kernel keep pages (mmap and exec work) instead of direct I/O.
        if (settings.FixedContent) options = options with { DirectIo = false, KeepCache = true };
        if (settings.AttributeTimeout is TimeSpan timeout) options = options with { AttributeTimeout = timeout };
        return new Session(FuseMount.Mount(tree, mountPoint, options));
    }

    public MountPointState Inspect(string mountPoint) => MountTable.Find(mountPoint) switch
    {
        null => new(MountPointKind.NotMounted),
        { FileSystemType: var type } when type.StartsWith("fuse", StringComparison.Ordinal) => new(MountPointKind.Ours, type),
        { FileSystemType: var type } => new(MountPointKind.Foreign, type),
    };

    public UnmountResult Unmount(string mountPoint, bool lazy) => Unmounter.Unmount(mountPoint, lazy);

    private sealed class Session(FuseMount mount) : IMountSession
    {
        public string MountPoint => mount.MountPoint;
        public void Serve() => mount.Run();
        public void RequestStop() => mount.RequestStop();
        public void Dispose() => mount.Dispose();
    }
}
