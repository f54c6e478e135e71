namespace MountChain.Mounting.Lifecycle;

/// <summary>
/// Pid files that tie a mount point to the process serving it, so <c>mountchain unmount</c> can
/// wait for that process to finish. Root uses /run/mountchain; others $XDG_RUNTIME_DIR/mountchain
/// (or /tmp/mountchain-UID). One file per mount point, named after its escaped full path.
/// </summary>
public static class ServerRegistry
{
    /// <summary>The registry reads /proc: Linux only (a Dokan server on Windows is not tracked).</summary>
    public static bool IsAvailable => OperatingSystem.IsLinux();

    public static string Directory
    {
        get
        {
            uint uid = LibC.GetEffectiveUid();
            if (uid == 0) return "/run/mountchain";
            var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
            return string.IsNullOrEmpty(runtime) ? $"/tmp/mountchain-{uid}" : Path.Combine(runtime, "mountchain");
        }
    }

    public static string PidFile(string mountPoint) =>
        Path.Combine(Directory, Uri.EscapeDataString(Normalize(mountPoint)) + ".pid");

    /// <param name="redoLog">The redo log taking the mount's writes (third line), for unmount to name.</param>
    public static void Register(string mountPoint, int pid, string? redoLog = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        File.WriteAllText(PidFile(mountPoint), $"{pid}\n{Normalize(mountPoint)}\n{(redoLog is null ? "" : redoLog + "\n")}");
    }

    /// <summary>The redo log recorded for the mount point, or null (read-only mount, or none recorded).</summary>
    public static string? LookupRedoLog(string mountPoint)
    {
        try
        {
            var third = File.ReadLines(PidFile(mountPoint)).Skip(2).FirstOrDefault();
            return string.IsNullOrWhiteSpace(third) ? null : third;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Removes the pid file if it still names <paramref name="pid"/>.</summary>
    public static void Unregister(string mountPoint, int pid)
    {
        if (Lookup(mountPoint) == pid) TryDelete(PidFile(mountPoint));
    }

    public static void Forget(string mountPoint) => TryDelete(PidFile(mountPoint));

    /// <summary>The pid recorded for the mount point, or null.</summary>
    public static int? Lookup(string mountPoint)
    {
        try
        {
            var first = File.ReadLines(PidFile(mountPoint)).FirstOrDefault();
            return int.TryParse(first, out int pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static bool IsAlive(int pid) => System.IO.Directory.Exists($"/proc/{pid}");

    /// <summary>Waits until the process is gone; false on timeout.</summary>
    public static bool WaitForExit(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (IsZombie(pid)) return true;
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    // A zombie has finished; only its parent's wait() is missing (e.g. a test that has not reaped it yet).
    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static string Normalize(string mountPoint) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
