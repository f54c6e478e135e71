using MountChain.Mounting.Hosting;

namespace MountChain.Mounting.Lifecycle;

/// <summary>
/// <c>mountchain unmount</c>: takes a mount down through its host and waits for the serving process
/// to finish (so a redo log is closed cleanly when this returns). A mount whose server died is
/// stale — every access fails — and is detached lazily. Problems are one-line IOExceptions.
/// </summary>
public static class MountRemover
{
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Unmounts; returns the redo log that holds the mount's writes (null for a read-only mount).</summary>
    public static string? Remove(IMountHost host, string mountPoint, bool lazy)
    {
        bool tracked = ServerRegistry.IsAvailable;
        int? pid = tracked ? ServerRegistry.Lookup(mountPoint) : null;
        string? redoLog = tracked ? ServerRegistry.LookupRedoLog(mountPoint) : null;
        bool serverAlive = pid is int p && ServerRegistry.IsAlive(p);
        var state = host.Inspect(mountPoint);
        if (state.Kind == MountPointKind.NotMounted)
        {
            if (tracked && !serverAlive) ServerRegistry.Forget(mountPoint);
            throw new IOException($"{mountPoint}: not mounted");
        }
        if (state.Kind == MountPointKind.Foreign)
            throw new IOException($"{mountPoint}: not a {host.Name} mount ({state.FileSystemType})");

        bool stale = (pid is not null && !serverAlive) || StaleMount.IsDisconnected(mountPoint);
        var result = host.Unmount(mountPoint, lazy || stale);
        switch (result.Outcome)
        {
            case UnmountOutcome.Unmounted:
                break;
            case UnmountOutcome.Busy:
                throw new IOException($"{result.Message}; close it (losetup -d, umount) or use --lazy");
            default:
                throw new IOException(result.Message);
        }
        if (serverAlive && !ServerRegistry.WaitForExit(pid!.Value, StopTimeout))
            throw new IOException($"{mountPoint}: unmounted, but server process {pid} has not exited after {StopTimeout.TotalSeconds:0} s");
        if (tracked) ServerRegistry.Forget(mountPoint);
        return redoLog;
    }
}
