using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using MountChain.Cli.Infrastructure;
using MountChain.Dokan.Hosting;
using MountChain.Fuse.BlockFile;
using MountChain.Fuse.Hosting;
using MountChain.Fuse.Lifecycle;

namespace MountChain.Cli.Commands;

/// <summary>
/// <c>mount</c>: presents a generation as <c>MOUNTPOINT/disk.raw</c> through FUSE (Linux).
/// Without --foreground it starts the same command again, detached, with --foreground, and returns
/// once the mount answers (or relays the server's error). <c>unmount</c> stops the serving process.
/// </summary>
public static class MountCommands
{
    /// <summary>Set in a detached server's environment: it announces readiness on stdout, then lets go of its terminal.</summary>
    private const string DetachedVariable = "MOUNTCHAIN_DETACHED";
    private const string ReadyLine = "mountchain-ready";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    public static IEnumerable<Command> Create()
    {
        yield return CreateMount();
        yield return CreateUnmount();
    }

    private static Command CreateMount()
    {
        var cmd = new Command("mount", "Show a generation as MOUNTPOINT/disk.raw (FUSE); returns once it is mounted");
        var source = new DiskSource().AddTo(cmd);
        var mountPoint = new Argument<DirectoryInfo>("mountpoint") { Description = "An existing empty directory" };
        var write = new Option<bool>("--write") { Description = "Allow writes (they go to the redo log given with --redo)" };
        var redo = new Option<FileInfo?>("--redo") { Description = "Redo log that receives the writes (with --write)" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "Serve in this process until unmounted or interrupted" };
        var allowOther = new Option<bool>("--allow-other") { Description = "Let other users access the mount (FUSE allow_other)" };
        cmd.Arguments.Add(mountPoint);
        cmd.Options.Add(write);
        cmd.Options.Add(redo);
        cmd.Options.Add(foreground);
        cmd.Options.Add(allowOther);
        cmd.SetAction(parse =>
        {
            string mp = Path.GetFullPath(parse.GetValue(mountPoint)!.FullName);
            if (parse.GetValue(redo) is not null && !parse.GetValue(write))
                throw new UsageException("--redo needs --write");
            if (parse.GetValue(write))
                throw new UsageException("writable mounts need the redo log (--write --redo FILE), which this build does not provide yet; mount read-only");
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows())
                throw new UsageException("mount runs on Linux (FUSE) and Windows (Dokan)");
            if (!parse.GetValue(foreground))
                return LaunchDetached(mp);
            return OperatingSystem.IsWindows()
                ? ServeWithDokan(parse, source, mp)
                : Serve(parse, source, mp, parse.GetValue(allowOther));
        });
        return cmd;
    }

    private static Command CreateUnmount()
    {
        var cmd = new Command("unmount", "Unmount a mountchain mount and wait for its server to finish (clears stale mounts)");
        var mountPoint = new Argument<DirectoryInfo>("mountpoint") { Description = "Where the disk is mounted" };
        var lazy = new Option<bool>("--lazy") { Description = "Detach even if busy; the kernel finishes when the last user lets go" };
        cmd.Arguments.Add(mountPoint);
        cmd.Options.Add(lazy);
        cmd.SetAction(parse => Unmount(Path.GetFullPath(parse.GetValue(mountPoint)!.FullName), parse.GetValue(lazy)));
        return cmd;
    }

    private static int Serve(ParseResult parse, DiskSource source, string mountPoint, bool allowOther)
    {
        bool detached = Environment.GetEnvironmentVariable(DetachedVariable) == "1";
        // Leave the launching terminal's session so its hang-up does not reach the server.
        if (detached) ServerProcess.LeaveSession();
        using var disk = source.Open(parse);
        var tree = new BlockFileTree(disk.Device, modified: File.GetLastWriteTimeUtc(disk.SourcePath));
        var options = new FuseMountOptions
        {
            AllowOther = allowOther,
            SourceName = disk.SourcePath,
            ErrorLog = Console.Error,
        };
        using var mount = FuseMount.Mount(tree, mountPoint, options);
        // .NET owns SIGTERM/SIGINT/SIGHUP: each one unmounts, which ends the loop below.
        var registrations = new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP }
            .Select(signal => PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Task.Run(mount.RequestStop);
            }))
            .ToList();
        int pid = Environment.ProcessId;
        try
        {
            ServerRegistry.Register(mountPoint, pid);
            if (detached) AnnounceReadyAndDetach();
            mount.Run();
            if (disk.Device.CanWrite) disk.Device.Flush();
            return ExitCodes.Success;
        }
        finally
        {
            ServerRegistry.Unregister(mountPoint, pid);
            foreach (var r in registrations) r.Dispose();
        }
    }

    /// <summary>Windows: the same tree through Dokan (drivers/MountChain.Dokan; not exercised by the Linux test suite).</summary>
    private static int ServeWithDokan(ParseResult parse, DiskSource source, string mountPoint)
    {
        using var disk = source.Open(parse);
        var tree = new BlockFileTree(disk.Device, modified: File.GetLastWriteTimeUtc(disk.SourcePath));
        using var mount = DokanMount.Mount(tree, mountPoint);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            Task.Run(mount.RequestStop);
        });
        if (Environment.GetEnvironmentVariable(DetachedVariable) == "1")
        {
            Console.Out.WriteLine(ReadyLine);
            Console.Out.Flush();
            Console.SetOut(TextWriter.Null);
            Console.SetError(TextWriter.Null);
        }
        mount.WaitForExit();
        return ExitCodes.Success;
    }

    private static void AnnounceReadyAndDetach()
    {
        Console.Out.WriteLine(ReadyLine);
        Console.Out.Flush();
        // The launcher exits next: later writes must not hit its closed pipes.
        ServerProcess.ReleaseStandardStreams();
    }

    /// <summary>Starts this command again with --foreground, waits for "ready" or relays its error.</summary>
    private static int LaunchDetached(string mountPoint)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Under "dotnet mountchain.dll" the process is the host: name the assembly again.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
            psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var arg in Environment.GetCommandLineArgs().Skip(1)) psi.ArgumentList.Add(arg);
        psi.ArgumentList.Add("--foreground");
        psi.Environment[DetachedVariable] = "1";

        using var child = Process.Start(psi) ?? throw new IOException("cannot start the mount server");
        child.StandardInput.Close();
        var errors = child.StandardError.ReadToEndAsync();
        var firstLine = child.StandardOutput.ReadLineAsync();
        if (!firstLine.Wait(StartTimeout))
        {
            child.Kill();
            throw new IOException($"{mountPoint}: the mount server did not become ready in {StartTimeout.TotalSeconds:0} s");
        }
        if (firstLine.Result == ReadyLine)
        {
            // The server serves from now on; looking at the file proves it.
            if (!File.Exists(Path.Combine(mountPoint, BlockFileTree.DefaultFileName)))
                throw new IOException($"{mountPoint}: mounted, but {BlockFileTree.DefaultFileName} is not visible");
            return ExitCodes.Success;
        }
        child.WaitForExit();
        string text = errors.Result.Trim();
        if (text.Length > 0) Console.Error.WriteLine(text);
        else Console.Error.WriteLine($"mountchain: {mountPoint}: the mount server exited with status {child.ExitCode}");
        return child.ExitCode == 0 ? ExitCodes.InputProblem : child.ExitCode;
    }

    private static int Unmount(string mountPoint, bool lazy)
    {
        if (OperatingSystem.IsWindows())
            return DokanMount.Unmount(mountPoint) ? ExitCodes.Success : throw new IOException($"{mountPoint}: not a Dokan mount point");
        var entry = MountTable.Find(mountPoint);
        int? pid = ServerRegistry.Lookup(mountPoint);
        bool serverAlive = pid is int p && ServerRegistry.IsAlive(p);
        if (entry is null)
        {
            if (!serverAlive) ServerRegistry.Forget(mountPoint);
            throw new IOException($"{mountPoint}: not mounted");
        }
        if (!entry.FileSystemType.StartsWith("fuse", StringComparison.Ordinal))
            throw new IOException($"{mountPoint}: not a FUSE mount ({entry.FileSystemType})");

        // A server that died leaves a mount whose every access fails (ENOTCONN): detach it.
        bool stale = (pid is not null && !serverAlive) || IsDisconnected(mountPoint);
        var result = Unmounter.Unmount(mountPoint, lazy || stale);
        switch (result.Outcome)
        {
            case Unmounter.Outcome.Unmounted:
                break;
            case Unmounter.Outcome.Busy:
                throw new IOException($"{result.Message}; close it (losetup -d, umount) or use --lazy");
            default:
                throw new IOException(result.Message);
        }
        if (serverAlive && !ServerRegistry.WaitForExit(pid!.Value, StopTimeout))
            throw new IOException($"{mountPoint}: unmounted, but server process {pid} has not exited after {StopTimeout.TotalSeconds:0} s");
        ServerRegistry.Forget(mountPoint);
        return ExitCodes.Success;
    }

    private static bool IsDisconnected(string mountPoint)
    {
        try
        {
            _ = Directory.Exists(mountPoint) && Directory.EnumerateFileSystemEntries(mountPoint).Any();
            return false;
        }
        catch (IOException e)
        {
            return e.Message.Contains("not connected", StringComparison.OrdinalIgnoreCase);
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
