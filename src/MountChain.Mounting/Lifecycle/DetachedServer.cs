namespace MountChain.Mounting.Lifecycle;

/// <summary>
/// The server's half of the detach protocol (the launcher's is <see cref="DetachedLauncher"/>).
/// A detached server runs with <see cref="Variable"/>=1 and talks to its launcher on stdout only —
/// its stderr pipe stays open while it serves, so the launcher cannot wait for it: warnings and
/// the name of a redo log it created go first, one prefixed line each, then <see cref="ReadyLine"/>,
/// after which the server lets go of the launcher's pipes. In the foreground the same calls print
/// to stderr, readiness as one line saying what is mounted where.
/// </summary>
public static class DetachedServer
{
    /// <summary>Set in a detached server's environment.</summary>
    public const string Variable = "MOUNTCHAIN_DETACHED";
    public const string ReadyLine = "mountchain-ready";
    public const string WarningPrefix = "mountchain-warning: ";
    public const string RedoLogPrefix = "mountchain-redo-log: ";

    /// <summary>True in a server started by <see cref="DetachedLauncher"/>.</summary>
    public static bool IsDetached => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>Leaves the launching terminal's session, so its hang-up does not reach a detached server.</summary>
    public static void LeaveSessionIfDetached()
    {
        if (IsDetached) ServerProcess.LeaveSession();
    }

    /// <summary>A warning for the user ("p3: no readable file system (not shown)").</summary>
    public static void Warn(string line)
    {
        if (IsDetached) Console.Out.WriteLine(WarningPrefix + line);
        else Console.Error.WriteLine("mountchain: " + line);
    }

    /// <summary>
    /// Names a redo log this server created. Detached, the launcher names it once the mount is ready
    /// (a refused mount leaves no log and says one line); in the foreground, <paramref name="tellUser"/> runs now.
    /// </summary>
    public static void AnnounceNewRedoLog(string path, Action<string> tellUser)
    {
        if (IsDetached) Console.Out.WriteLine(RedoLogPrefix + path);
        else tellUser(path);
    }

    /// <summary>The mount is serving: tell the launcher, then release its pipes (it exits next); in the foreground, tell the user.</summary>
    public static void AnnounceReady(string? foregroundMessage = null)
    {
        if (!IsDetached)
        {
            if (foregroundMessage is not null) Console.Error.WriteLine(foregroundMessage);
            return;
        }
        Console.Out.WriteLine(ReadyLine);
        Console.Out.Flush();
        ServerProcess.ReleaseStandardStreams();
    }
}
