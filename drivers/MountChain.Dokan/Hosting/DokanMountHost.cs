using MountChain.Mounting.Hosting;
using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>The Windows <see cref="IMountHost"/>: Dokan 2 (<see cref="DokanMount"/>). Not exercised by the Linux test suite.</summary>
public sealed class DokanMountHost : IMountHost
{
    public string Name => "Dokan";

    // Dokan takes no per-mount cache or visibility options: a mount is visible to the session that made it.
    public IMountSession Mount(IFileTree tree, string mountPoint, MountSettings settings) =>
        new Session(DokanMount.Mount(tree, mountPoint));

    /// <summary>Windows keeps no mount table we can read: whether the point is Dokan's shows when unmounting.</summary>
    public MountPointState Inspect(string mountPoint) => new(MountPointKind.Ours);

    public UnmountResult Unmount(string mountPoint, bool lazy) => DokanMount.Unmount(mountPoint)
        ? new(UnmountOutcome.Unmounted, "")
        : new(UnmountOutcome.NotMounted, $"{mountPoint}: not a Dokan mount point");

    private sealed class Session(DokanMount mount) : IMountSession
    {
        public string MountPoint => mount.MountPoint;
        public void Serve() => mount.WaitForExit();
        public void RequestStop() => mount.RequestStop();
        public void Dispose() => mount.Dispose();
    }
}
