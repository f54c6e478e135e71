using System.CommandLine;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using MountChain.Cli.Infrastructure;
using MountChain.Dokan.Hosting;
using MountChain.Mounting.BlockFile;
using MountChain.Mounting.FileTree;
using MountChain.Fuse.Hosting;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Mounting.Trees;

namespace MountChain.Cli.Commands;

/// <summary>
/// <c>mount</c>: presents a generation as <c>MOUNTPOINT/disk.raw</c> through FUSE (Linux), or with
/// --files as a read-only tree of its files, <c>MOUNTPOINT/pK/...</c> per readable partition.
/// Without --foreground it starts the same command again, detached, with --foreground, and returns
/// once the mount answers (or relays the server's error). <c>unmount</c> stops the serving process.
/// </summary>
public static class MountCommands
{
    /// <summary>Set in a detached server's environment: it announces readiness on stdout, then lets go of its terminal.</summary>
    private const string DetachedVariable = "MOUNTCHAIN_DETACHED";
    private const string ReadyLine = "mountchain-ready";
    /// <summary>A detached server's warnings travel on stdout before <see cref="ReadyLine"/> (its stderr pipe stays open, so the launcher cannot wait for it).</summary>
    private const string WarningPrefix = "mountchain-warning: ";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    /// <summary>How long the kernel may cache names and attributes of a --files tree, whose content is fixed.</summary>
    private static readonly TimeSpan FilesAttributeTimeout = TimeSpan.FromMinutes(10);

    public static IEnumerable<Command> Create()
    {
        yield return CreateMount();
        yield return CreateUnmount();
    }

    private static Command CreateMount()
    {
        var cmd = new Command("mount", "Show a generation as MOUNTPOINT/disk.raw, or with --files its files as MOUNTPOINT/pK/... (FUSE); returns once it is mounted");
        var source = new DiskSource().AddTo(cmd);
        var mountPoint = new Argument<DirectoryInfo>("mountpoint") { Description = "An existing empty directory" };
        var write = new Option<bool>("--write") { Description = "Allow writes (they go to the redo log given with --redo)" };
        var redo = new Option<FileInfo?>("--redo") { Description = "Redo log that receives the writes (with --write)" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "Serve in this process until unmounted or interrupted" };
        var allowOther = new Option<bool>("--allow-other") { Description = "Let other users access the mount (FUSE allow_other)" };
        var files = new Option<bool>("--files") { Description = "Read-only tree of the files: one folder pK per partition with a readable file system (NTFS, XFS)" };
        cmd.Arguments.Add(mountPoint);
        cmd.Options.Add(files);
        cmd.Options.Add(write);
        cmd.Options.Add(redo);
        cmd.Options.Add(foreground);
        cmd.Options.Add(allowOther);
        cmd.SetAction(parse =>
        {
            string mp = Path.GetFullPath(parse.GetValue(mountPoint)!.FullName);
            bool filesMode = parse.GetValue(files);
            if (filesMode && parse.GetValue(write))
                throw new UsageException("--files and --write cannot be combined: the file tree is read-only");
            if (parse.GetValue(redo) is not null && !parse.GetValue(write))
                throw new UsageException("--redo needs --write");
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows())
                throw new UsageException("mount runs on Linux (FUSE) and Windows (Dokan)");
            if (!parse.GetValue(foreground))
            {
                string? newLog = NewRedoLogPath(parse, source, write, redo);
                int launched = LaunchDetached(mp, filesMode, newLog is null ? [] : ["--redo", newLog]);
                // Named only once the server has created it: a refused mount leaves no log and says one line.
                if (launched == ExitCodes.Success && newLog is not null)
                    Console.Error.WriteLine($"mountchain: writes go to the new redo log {newLog}");
                return launched;
            }
            return OperatingSystem.IsWindows()
                ? ServeWithDokan(parse, source, mp, filesMode)
                : Serve(parse, source, mp, parse.GetValue(allowOther), filesMode);
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

    /// <summary>The tree a mount presents: disk.raw, or (--files) the file systems' trees; warns about partitions left out.</summary>
    private static IFileTree CreateTree(OpenedDisk disk, bool filesMode, bool detached)
    {
        var modified = new DateTimeOffset(File.GetLastWriteTimeUtc(disk.SourcePath));
        if (!filesMode) return new BlockFileTree(disk.Device, modified: modified);
        var scan = VolumeFolderScanner.Open(disk.Device);
        foreach (var line in scan.Skipped)
        {
            if (detached) Console.Out.WriteLine($"{WarningPrefix}{line} (not shown)");
            else Console.Error.WriteLine($"mountchain: {line} (not shown)");
        }
        if (scan.Folders.Count == 0)
            throw new IOException($"{disk.SourcePath}: no partition holds a file system mountchain can read");
        return new FileSystemTree(scan.Folders, modified);
    }

    private static int Serve(ParseResult parse, DiskSource source, string mountPoint, bool allowOther, bool filesMode)
    {
        bool detached = Environment.GetEnvironmentVariable(DetachedVariable) == "1";
        // Leave the launching terminal's session so its hang-up does not reach the server.
        if (detached) ServerProcess.LeaveSession();
        using var disk = OpenDisk(parse, source);
        // In the foreground nobody else names a log created here (the launcher does for detached mounts).
        if (!detached && disk.RedoLogPath is not null && parse.GetValue(RedoOption(parse)) is null)
            Console.Error.WriteLine($"mountchain: writes go to the new redo log {disk.RedoLogPath}");
        var tree = CreateTree(disk, filesMode, detached);
        using var ownedTree = tree as IDisposable;
        var options = new FuseMountOptions
        {
            AllowOther = allowOther,
            SourceName = disk.SourcePath,
            ErrorLog = Console.Error,
        };
        if (filesMode)
        {
            // The files cannot change under the mount: let the kernel cache pages (mmap and exec work) and names.
            options = options with { DirectIo = false, KeepCache = true, AttributeTimeout = FilesAttributeTimeout };
        }
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
    private static int ServeWithDokan(ParseResult parse, DiskSource source, string mountPoint, bool filesMode)
    {
        using var disk = OpenDisk(parse, source);
        var tree = CreateTree(disk, filesMode, Environment.GetEnvironmentVariable(DetachedVariable) == "1");
        using var ownedTree = tree as IDisposable;
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

    /// <summary>
    /// A detached writable mount without --redo: the launcher names the fresh redo log itself
    /// (next to the file given, as RedoLog does) so it can tell the user where the writes go.
    /// </summary>
    private static string? NewRedoLogPath(ParseResult parse, DiskSource source, Option<bool> write, Option<FileInfo?> redo)
    {
        if (!parse.GetValue(write) || parse.GetValue(redo) is not null) return null;
        string top = parse.GetValue(source.Path)!.FullName;
        return Path.Combine(Path.GetDirectoryName(top)!, $"{Path.GetFileNameWithoutExtension(top)}-mc-{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}.vmdk");
    }

    /// <summary>Read-only, or writable through a redo log with --write [--redo FILE].</summary>
    private static OpenedDisk OpenDisk(ParseResult parse, DiskSource source)
    {
        var command = parse.CommandResult.Command;
        var write = command.Options.OfType<Option<bool>>().First(o => o.Name == "--write");
        return parse.GetValue(write) ? source.OpenWritable(parse, parse.GetValue(RedoOption(parse))) : source.Open(parse);
    }

    private static Option<FileInfo?> RedoOption(ParseResult parse) =>
        parse.CommandResult.Command.Options.OfType<Option<FileInfo?>>().First(o => o.Name == "--redo");

    /// <summary>Starts this command again with --foreground, waits for "ready" or relays its error.</summary>
    private static int LaunchDetached(string mountPoint, bool filesMode, string[] extraArguments)
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
        foreach (var arg in extraArguments) psi.ArgumentList.Add(arg);
        psi.ArgumentList.Add("--foreground");
        psi.Environment[DetachedVariable] = "1";

        using var child = Process.Start(psi) ?? throw new IOException("cannot start the mount server");
        child.StandardInput.Close();
        var errors = child.StandardError.ReadToEndAsync();
        string? line = ReadServerLine(child, mountPoint, DateTime.UtcNow + StartTimeout);
        if (line == ReadyLine)
        {
            // The server serves from now on; looking at the tree proves it.
            if (filesMode ? !Directory.EnumerateFileSystemEntries(mountPoint).Any() : !File.Exists(Path.Combine(mountPoint, BlockFileTree.DefaultFileName)))
                throw new IOException($"{mountPoint}: mounted, but {(filesMode ? "no partition folder" : BlockFileTree.DefaultFileName)} is visible");
            return ExitCodes.Success;
        }
        child.WaitForExit();
        string text = errors.Result.Trim();
        if (text.Length > 0) Console.Error.WriteLine(text);
        else Console.Error.WriteLine($"mountchain: {mountPoint}: the mount server exited with status {child.ExitCode}");
        return child.ExitCode == 0 ? ExitCodes.InputProblem : child.ExitCode;
    }

    /// <summary>The server's next stdout line that is not a warning (warnings are relayed to stderr on the way); null at its end.</summary>
    private static string? ReadServerLine(Process child, string mountPoint, DateTime deadline)
    {
        while (true)
        {
            var next = child.StandardOutput.ReadLineAsync();
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero || !next.Wait(remaining))
            {
                child.Kill();
                throw new IOException($"{mountPoint}: the mount server did not become ready in {StartTimeout.TotalSeconds:0} s");
            }
            if (next.Result is { } text && text.StartsWith(WarningPrefix, StringComparison.Ordinal))
            {
                Console.Error.WriteLine("mountchain: " + text[WarningPrefix.Length..]);
                continue;
            }
            return next.Result;
        }
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

        // A server that died leaves a mount whose every access fails (ENOTCONN/ECONNABORTED): detach it.
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
            // ENOTCONN once the kernel noticed the dead server; ECONNABORTED while it is still tearing down.
            return e.Message.Contains("not connected", StringComparison.OrdinalIgnoreCase) ||
                   e.Message.Contains("connection abort", StringComparison.OrdinalIgnoreCase);
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
