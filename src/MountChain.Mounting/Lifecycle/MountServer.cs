using System.Runtime.InteropServices;
using MountChain.Core.BlockDevices;
using MountChain.Mounting.Hosting;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.Lifecycle;

/// <summary>
/// Serves one tree at a mount point until it is unmounted or the process is told to stop, whatever
/// the host: SIGTERM/SIGINT/SIGHUP unmount (which ends the serving loop), the pid is registered for
/// <see cref="MountRemover"/>, and a detached server announces readiness once mounted.
/// </summary>
public static class MountServer
{
    /// <param name="redoLog">The redo log taking the writes, recorded for <see cref="MountRemover"/> to name.</param>
    /// <param name="readyMessage">Printed on stderr once mounted when serving in the foreground.</param>
    public static void Serve(IMountHost host, IFileTree tree, string mountPoint, MountSettings settings, IBlockDevice device,
        string? redoLog = null, string? readyMessage = null)
    {
        using var session = host.Mount(tree, mountPoint, settings);
        // .NET owns the process's signals: each one unmounts, which ends Serve below.
        var registrations = new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Task.Run(session.RequestStop);
            }))
            .ToList();
        int pid = Environment.ProcessId;
        bool registered = ServerRegistry.IsAvailable;
        try
        {
            if (registered) ServerRegistry.Register(mountPoint, pid, redoLog);
            DetachedServer.AnnounceReady(readyMessage);
            session.Serve();
            if (device.CanWrite) device.Flush();
        }
        finally
        {
            if (registered) ServerRegistry.Unregister(mountPoint, pid);
            foreach (var r in registrations) r.Dispose();
        }
    }
}
