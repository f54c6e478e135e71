namespace MountChain.Mounting.Lifecycle;

/// <summary>What a mount server started in the background does to stop depending on the terminal that launched it.</summary>
public static class ServerProcess
{
    /// <summary>setsid(2): a new session, so the terminal's hang-up and job-control signals no longer reach us (POSIX only).</summary>
    public static void LeaveSession()
    {
        if (!OperatingSystem.IsWindows()) _ = LibC.SetSid();
    }

    /// <summary>Points stdin/stdout/stderr at /dev/null (POSIX) and drops Console output: the launcher has exited and its pipes are closed.</summary>
    public static void ReleaseStandardStreams()
    {
        if (!OperatingSystem.IsWindows())
        {
            int devNull = LibC.Open("/dev/null", LibC.ORdwr);
            if (devNull >= 0)
            {
                for (int fd = 0; fd <= 2; fd++) _ = LibC.Dup2(devNull, fd);
                if (devNull > 2) _ = LibC.Close(devNull);
            }
        }
        Console.SetOut(TextWriter.Null);
        Console.SetError(TextWriter.Null);
    }
}
