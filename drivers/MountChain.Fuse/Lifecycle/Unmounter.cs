using System.Diagnostics;
using System.Runtime.InteropServices;
using MountChain.Fuse.Native;
using MountChain.Mounting.Hosting;

namespace MountChain.Fuse.Lifecycle;

/// <summary>
/// Takes a FUSE mount down. Root calls umount2 directly; other users go through the setuid
/// helper fusermount3 (-u, and -z for lazy). A lazy unmount detaches the mount at once and lets
/// the kernel finish it when the last user (an open file, a loop device) lets go.
/// </summary>
public static class Unmounter
{
    private const string FuseConnections = "/sys/fs/fuse/connections";

    public static bool IsRoot => LibC.GetEffectiveUid() == 0;

    public static UnmountResult Unmount(string mountPoint, bool lazy)
    {
        if (IsRoot)
        {
            if (LibC.Umount2(mountPoint, lazy ? LibC.MntDetach : 0) == 0) return new(UnmountOutcome.Unmounted, "");
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                Errno.EBUSY => new(UnmountOutcome.Busy, $"{mountPoint}: busy (a file is open on it or a loop device uses disk.raw)"),
                Errno.EINVAL or Errno.ENOENT => new(UnmountOutcome.NotMounted, $"{mountPoint}: not mounted"),
                _ => new(UnmountOutcome.Failed, $"{mountPoint}: cannot unmount: {Marshal.GetPInvokeErrorMessage(errno)}"),
            };
        }
        return RunFusermount(mountPoint, lazy);
    }

    /// <summary>
    /// Fails every pending and future request of the connection (writing to its abort file), so a
    /// server stuck behind a lazily detached, still busy mount can finish. Root only.
    /// </summary>
    public static bool AbortConnection(int connectionId)
    {
        try
        {
            File.WriteAllText(Path.Combine(FuseConnections, connectionId.ToString(), "abort"), "1");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static UnmountResult RunFusermount(string mountPoint, bool lazy)
    {
        var psi = new ProcessStartInfo("fusermount3")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(lazy ? "-uz" : "-u");
        psi.ArgumentList.Add("--");
        psi.ArgumentList.Add(mountPoint);
        try
        {
            using var p = Process.Start(psi)!;
            string error = p.StandardError.ReadToEnd().Trim();
            p.WaitForExit();
            if (p.ExitCode == 0) return new(UnmountOutcome.Unmounted, "");
            if (error.Contains("busy", StringComparison.OrdinalIgnoreCase)) return new(UnmountOutcome.Busy, $"{mountPoint}: busy");
            if (error.Contains("not found in", StringComparison.OrdinalIgnoreCase) || error.Contains("not mounted"))
                return new(UnmountOutcome.NotMounted, $"{mountPoint}: not mounted");
            return new(UnmountOutcome.Failed, error.Length > 0 ? error : $"{mountPoint}: fusermount3 failed");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return new(UnmountOutcome.Failed, "fusermount3 not found (install the fuse3 package)");
        }
    }
}
