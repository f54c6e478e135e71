using System.Diagnostics;
using System.Reflection;

namespace MountChain.Mounting.Lifecycle;

/// <summary>
/// The launcher's half of the detach protocol (<see cref="DetachedServer"/>): starts this very
/// command again with <c>--foreground</c> in a detached server, relays its warnings, and returns once
/// it is ready — or with its error once it has exited.
/// </summary>
public static class DetachedLauncher
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);

    /// <param name="Ready">The server mounted and serves.</param>
    /// <param name="ExitCode">The server's exit status when it did not become ready.</param>
    /// <param name="Errors">What the server printed on stderr when it did not become ready.</param>
    /// <param name="NewRedoLog">A redo log the server created, when it did.</param>
    public sealed record Outcome(bool Ready, int ExitCode, string Errors, string? NewRedoLog);

    /// <summary>A server started before this process parsed its command line (<see cref="StartEarly"/>).</summary>
    private static Process? s_early;

    /// <summary>
    /// Starts the server now, before this process builds and parses its command line: the server's
    /// start-up runs beside ours, and <see cref="Launch"/> adopts it. The server parses and checks
    /// the same arguments, so when this process refuses them the server refuses them too;
    /// <see cref="AbandonEarly"/> then waits for it to exit.
    /// </summary>
    public static void StartEarly()
    {
        try { s_early = StartServer(); }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            // Not now: Launch starts it again and reports the failure as the command's error.
        }
    }

    /// <summary>An early server that <see cref="Launch"/> did not adopt is asked to stop (SIGTERM unmounts) and awaited.</summary>
    public static void AbandonEarly()
    {
        if (Interlocked.Exchange(ref s_early, null) is not { } child) return;
        using (child)
        {
            try
            {
                if (!child.WaitForExit(TimeSpan.FromMilliseconds(500)))
                {
                    if (OperatingSystem.IsWindows()) child.Kill();
                    else LibC.Kill(child.Id, LibC.SigTerm);
                    if (!child.WaitForExit(StopTimeout)) child.Kill();
                }
            }
            catch (InvalidOperationException) { } // already reaped
        }
    }

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Starts the server (or adopts the early one) and waits for its ready line; <paramref name="warn"/> receives each warning on the way.</summary>
    public static Outcome Launch(string mountPoint, Action<string> warn)
    {
        using var child = Interlocked.Exchange(ref s_early, null) ?? StartServer();
        // Plain blocking reads on this thread (no thread pool on the way to "ready"); a server silent
        // past the deadline is killed, which ends the read. The server writes to stderr only when it
        // fails, a few lines, so that pipe cannot fill while we wait on stdout.
        bool timedOut = false;
        using var watchdog = new Timer(_ =>
        {
            timedOut = true;
            try { child.Kill(); } catch (InvalidOperationException) { } // exited meanwhile
        }, null, StartTimeout, Timeout.InfiniteTimeSpan);
        string? redoLog = null;
        while (child.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith(DetachedServer.WarningPrefix, StringComparison.Ordinal))
                warn(line[DetachedServer.WarningPrefix.Length..]);
            else if (line.StartsWith(DetachedServer.RedoLogPrefix, StringComparison.Ordinal))
                redoLog = line[DetachedServer.RedoLogPrefix.Length..];
            else if (line == DetachedServer.ReadyLine)
                return new Outcome(true, 0, "", redoLog);
            else
                break;
        }
        string errors = child.StandardError.ReadToEnd();
        child.WaitForExit();
        if (Volatile.Read(ref timedOut))
            throw new IOException($"{mountPoint}: the mount server did not become ready in {StartTimeout.TotalSeconds:0} s");
        return new Outcome(false, child.ExitCode, errors.Trim(), null);
    }

    private static Process StartServer()
    {
        var child = Process.Start(ServerStartInfo()) ?? throw new IOException("cannot start the mount server");
        child.StandardInput.Close();
        return child;
    }

    /// <summary>This process's command line again, plus --foreground, in a detached server's environment.</summary>
    private static ProcessStartInfo ServerStartInfo()
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The native binary (or apphost) re-executes itself. Only under "dotnet mountchain.dll" is the
        // process the host, which needs the assembly named again (AppContext.BaseDirectory, not
        // Assembly.Location, which a single-file/AOT binary does not have).
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, Assembly.GetEntryAssembly()!.GetName().Name + ".dll"));
        foreach (var arg in Environment.GetCommandLineArgs().Skip(1)) psi.ArgumentList.Add(arg);
        psi.ArgumentList.Add("--foreground");
        psi.Environment[DetachedServer.Variable] = "1";
        return psi;
    }
}
