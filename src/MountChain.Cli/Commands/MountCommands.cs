using System.CommandLine;
using MountChain.Cli.Infrastructure;
using MountChain.Dokan.Hosting;
using MountChain.Fuse.Hosting;
using MountChain.Mounting;
using MountChain.Mounting.Hosting;
using MountChain.Mounting.Lifecycle;

namespace MountChain.Cli.Commands;

/// <summary>
/// <c>mount</c>: presents a generation as <c>MOUNTPOINT/disk.raw</c>, or with --files as a read-only
/// tree of its files (<c>MOUNTPOINT/pK/...</c>), through FUSE (Linux) or Dokan (Windows). Without
/// --foreground it returns once a detached server serves the mount. <c>unmount</c> takes it down and
/// waits for the server. The protocol and the trees live in src/MountChain.Mounting.
/// </summary>
public static class MountCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return CreateMount();
        yield return CreateUnmount();
    }

    /// <summary>
    /// True for a command line that runs <c>mount</c> through a detached server, told without
    /// parsing it (the server can then start before we parse): <c>mount</c> first, and no help,
    /// version or foreground request. Any short option but the value-taking <c>-g</c> (perhaps a
    /// bundle holding <c>-f</c>) says no: the ordinary path then decides.
    /// </summary>
    public static bool StartsDetachedServer(string[] args) =>
        args.Length > 1 && args[0] == "mount" && !DetachedServer.IsDetached
        && !args.Skip(1).Any(a => a is "--foreground" or "--help" or "--version" or "-?" or "/?" or "/h"
            || (a.Length >= 2 && a[0] == '-' && a[1] != '-' && a != "-g"));

    /// <summary>The host of this platform.</summary>
    private static IMountHost Host() => OperatingSystem.IsWindows() ? new DokanMountHost() : new FuseMountHost();

    private static Command CreateMount()
    {
        var cmd = new Command("mount", "Show a generation as MOUNTPOINT/disk.raw, or with --files its files as MOUNTPOINT/pK/... (FUSE); returns once it is mounted");
        var source = new DiskSource().AddTo(cmd);
        var mountPoint = new Argument<DirectoryInfo>("mountpoint") { Description = "An existing empty directory" };
        var foreground = new Option<bool>("--foreground", "-f") { Description = "Serve in this process until unmounted or interrupted" };
        var allowOther = new Option<bool>("--allow-other") { Description = "Let other users access the mount (FUSE allow_other)" };
        var files = new Option<bool>("--files") { Description = "Read-only tree of the files: one folder pK per partition with a readable file system (NTFS, XFS)" };
        var nonEmpty = new Option<bool>("--nonempty") { Description = "Mount even over a directory that is not empty (its content is hidden while mounted)" };
        cmd.Arguments.Add(mountPoint);
        cmd.Options.Add(nonEmpty);
        cmd.Options.Add(CommonOptions.Json);
        cmd.Options.Add(files);
        CommonOptions.AddWriteOptions(cmd);
        cmd.Options.Add(foreground);
        cmd.Options.Add(allowOther);
        cmd.SetAction(parse =>
        {
            string mp = Path.GetFullPath(parse.GetValue(mountPoint)!.FullName);
            bool filesMode = parse.GetValue(files);
            if (filesMode && parse.GetValue(CommonOptions.Write))
                throw new UsageException("--files and --write cannot be combined: the file tree is read-only");
            CommonOptions.RefuseRedoWithoutWrite(parse);
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows())
                throw new UsageException("mount runs on Linux (FUSE) and Windows (Dokan)");
            // Checked by the serving process only (a detached server runs this with --foreground): a
            // launcher that looked itself could find the mount its early server just made.
            if (parse.GetValue(foreground) && !parse.GetValue(nonEmpty)) RefuseNonEmpty(mp);
            return parse.GetValue(foreground)
                ? Serve(parse, source, mp, parse.GetValue(allowOther), filesMode)
                : Launch(mp, filesMode, parse.GetValue(CommonOptions.Json) ? parse.GetValue(source.Path)!.FullName : null);
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
        cmd.SetAction(parse =>
        {
            string mp = Path.GetFullPath(parse.GetValue(mountPoint)!.FullName);
            string? redoLog = MountRemover.Remove(Host(), mp, parse.GetValue(lazy));
            Console.WriteLine(redoLog is null ? $"unmounted {mp}" : $"unmounted {mp}; its writes are in the redo log {redoLog}");
            return ExitCodes.Success;
        });
        return cmd;
    }

    /// <summary>A mount hides what the directory holds: refused unless asked for (--nonempty).</summary>
    private static void RefuseNonEmpty(string mountPoint)
    {
        int entries;
        try
        {
            if (!Directory.Exists(mountPoint)) return; // the host names a missing mount point
            entries = Directory.EnumerateFileSystemEntries(mountPoint).Take(1000).Count();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return; // a stale or unreadable mount point: the host's own error names it
        }
        if (entries > 0)
            throw new UsageException($"{mountPoint}: not empty ({(entries >= 1000 ? "1000 or more" : entries.ToString(System.Globalization.CultureInfo.InvariantCulture))} entries); mounting would hide them (use --nonempty to mount anyway)");
    }

    /// <summary>Starts a detached server running this command with --foreground; returns once it serves.</summary>
    /// <param name="jsonFile">With --json: the disk file, for the result object.</param>
    private static int Launch(string mountPoint, bool filesMode, string? jsonFile)
    {
        var outcome = DetachedLauncher.Launch(mountPoint, warning => Console.Error.WriteLine("mountchain: " + warning));
        if (!outcome.Ready)
        {
            Console.Error.WriteLine(outcome.Errors.Length > 0
                ? outcome.Errors
                : $"mountchain: {mountPoint}: the mount server exited with status {outcome.ExitCode}");
            return outcome.ExitCode == 0 ? ExitCodes.InputProblem : outcome.ExitCode;
        }
        MountedTree.CheckVisible(mountPoint, filesMode);
        // Named only once the server serves: a refused mount leaves no log and says one line.
        if (outcome.NewRedoLog is not null) TellNewRedoLog(outcome.NewRedoLog);
        if (jsonFile is not null) Json.Write(new MountResult(mountPoint, jsonFile, filesMode, outcome.NewRedoLog), Json.Types.MountResult);
        return ExitCodes.Success;
    }

    /// <summary>Serves the mount in this process (--foreground, or the detached server itself).</summary>
    private static int Serve(ParseResult parse, DiskSource source, string mountPoint, bool allowOther, bool filesMode)
    {
        DetachedLauncher.AbandonEarly(); // never two servers for one mount
        DetachedServer.LeaveSessionIfDetached();
        using var disk = CommonOptions.OpenReadOrWrite(parse, source);
        if (disk.RedoLogPath is not null && parse.GetValue(CommonOptions.Redo) is null)
            DetachedServer.AnnounceNewRedoLog(disk.RedoLogPath, TellNewRedoLog);
        var tree = MountedTree.Create(disk.Device, disk.SourcePath, filesMode, DetachedServer.Warn);
        using var ownedTree = tree as IDisposable;
        var settings = MountedTree.Settings(filesMode, disk.SourcePath, allowOther, Console.Error);
        string what = filesMode ? "files of " : "";
        string writes = disk.RedoLogPath is null ? "read-only" : $"writable, redo log {disk.RedoLogPath}";
        MountServer.Serve(Host(), tree, mountPoint, settings, disk.Device, disk.RedoLogPath,
            $"mountchain: ready: {what}{disk.SourcePath} generation {disk.Generation} at {mountPoint} ({writes}); stop with Ctrl-C or 'mountchain unmount {mountPoint}'");
        return ExitCodes.Success;
    }

    private static void TellNewRedoLog(string path) => Console.Error.WriteLine($"mountchain: writes go to the new redo log {path}");
}
