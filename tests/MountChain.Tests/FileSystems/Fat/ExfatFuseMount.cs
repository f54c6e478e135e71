using MountChain.Tests.Infrastructure;
using MountChain.Tests.Fuse;

namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// exfat-fuse (the real exFAT implementation this machine has: its kernel has no exfat driver)
/// mounted on one partition of a raw disk image through a loop device with an offset and size
/// limit (the kernel has no loop partition scan). Unmounted and detached on dispose.
/// </summary>
internal sealed class ExfatFuseMount : IDisposable
{
    private readonly LoopDevice _loop;

    public ExfatFuseMount(string raw, long offset, long size, string mountPoint, bool readOnly = false)
    {
        Directory.CreateDirectory(mountPoint);
        _loop = new LoopDevice(raw, offset, size, readOnly);
        MountPoint = mountPoint;
        try { ProcessRunner.Bash($"mount.exfat-fuse {(readOnly ? "-o ro " : "")}{_loop.Device} '{mountPoint}' >/dev/null"); }
        catch { _loop.Dispose(); throw; }
    }

    public string MountPoint { get; }

    /// <summary>Runs a bash script inside the mounted volume (TZ=UTC: exfat-fuse writes local times).</summary>
    public string Run(string script) => ProcessRunner.Bash($"export TZ=UTC LC_ALL=C.UTF-8\n{script}", MountPoint);

    public void Dispose()
    {
        try { ProcessRunner.Bash($"sync; umount '{MountPoint}'"); }
        finally { _loop.Dispose(); }
    }
}
