using System.Diagnostics;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// What a new user can lose data with (issue 14): unlink/commit with children in other folders,
/// mounting over a full folder, binary on a terminal. Everything through the CLI, as a user runs it.
/// </summary>
public sealed class DataSafetyTests : IDisposable
{
    private readonly TempDirectory _dir = new("safety");

    public void Dispose() => _dir.Dispose();

    private static ProcessResult Cli(string workingDirectory, params string[] args) => MountChainCli.RunIn(workingDirectory, args);

    private static ProcessResult Ok(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        return r;
    }

    /// <summary>base.vmdk and its child c1.vmdk in the scratch folder, made by qemu.</summary>
    private void QemuChain()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "base.vmdk", "8M");
        Qemu.Io(_dir.Path, "base.vmdk", ["write -q -P 0x11 0 1M"]);
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "c1.vmdk");
        Qemu.Io(_dir.Path, "c1.vmdk", ["write -q -P 0x22 1M 1M"]);
    }

    [QemuFact]
    public void Unlink_refuses_while_a_child_created_in_another_folder_exists()
    {
        QemuChain();
        _dir.Dir("work");
        Ok(Cli(_dir.Path, "create-child", "c1.vmdk", "work/kid.vmdk"));
        string kidHash = Ok(Cli(_dir.Path, "hash", "work/kid.vmdk")).Stdout.Split(' ')[0];

        var refused = Cli(_dir.Path, "unlink", "c1.vmdk");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("kid.vmdk", refused.Stderr);
        Assert.True(File.Exists(_dir.File("c1.vmdk")));
        Assert.StartsWith(kidHash, Ok(Cli(_dir.Path, "hash", "work/kid.vmdk")).Stdout);

        // --help says exactly what is looked at.
        string help = Ok(Cli(_dir.Path, "unlink", "--help")).Stdout;
        Assert.Contains(".mc-children", help);
        Assert.Contains("other tools", help);

        // Once the child is gone, its record goes with it and the parent may be deleted.
        Ok(Cli(_dir.Path, "unlink", "work/kid.vmdk"));
        Assert.False(File.Exists(_dir.File("c1.vmdk.mc-children")));
        Ok(Cli(_dir.Path, "unlink", "c1.vmdk"));
        Assert.False(File.Exists(_dir.File("c1.vmdk")));
    }

    [QemuFact]
    public void Commit_refuses_while_a_sibling_or_a_child_lives_in_another_folder()
    {
        QemuChain();
        foreach (var d in new[] { "a", "b", "g" }) _dir.Dir(d);
        Ok(Cli(_dir.Path, "create-child", "c1.vmdk", "a/log.vmdk"));
        Ok(Cli(_dir.Path, "create-child", "c1.vmdk", "b/other.vmdk"));
        File.WriteAllBytes(_dir.File("patch.bin"), new byte[70_000]);
        Ok(Cli(_dir.Path, "write", "a/log.vmdk", "--offset", "0", "--input", "patch.bin"));
        string parentBefore = Hashing.Sha256File(_dir.File("c1.vmdk"));

        var sibling = Cli(_dir.Path, "commit", "a/log.vmdk");
        Assert.Equal(1, sibling.ExitCode);
        Assert.Contains("other.vmdk", sibling.Stderr);
        Assert.Equal(parentBefore, Hashing.Sha256File(_dir.File("c1.vmdk")));

        Ok(Cli(_dir.Path, "unlink", "b/other.vmdk"));
        Ok(Cli(_dir.Path, "create-child", "a/log.vmdk", "g/grandchild.vmdk"));
        var child = Cli(_dir.Path, "commit", "a/log.vmdk");
        Assert.Equal(1, child.ExitCode);
        Assert.Contains("grandchild.vmdk", child.Stderr);
        Assert.True(File.Exists(_dir.File("a/log.vmdk")));
        Assert.Equal(parentBefore, Hashing.Sha256File(_dir.File("c1.vmdk")));
        Assert.Contains(".mc-children", Ok(Cli(_dir.Path, "commit", "--help")).Stdout);

        Ok(Cli(_dir.Path, "unlink", "g/grandchild.vmdk"));
        Ok(Cli(_dir.Path, "commit", "a/log.vmdk"));
        Assert.False(File.Exists(_dir.File("a/log.vmdk")));
        Assert.False(File.Exists(_dir.File("c1.vmdk.mc-children")));
    }

    [Fact]
    public void Mount_refuses_a_mount_point_that_is_not_empty()
    {
        string image = _dir.RandomImage("image.raw", 1 << 20);
        string mp = _dir.Dir("mnt");
        File.WriteAllText(Path.Combine(mp, "keep.txt"), "mine");
        var r = MountChainCli.Run("mount", image, mp);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("not empty", r.Stderr);
        Assert.Contains("--nonempty", r.Stderr);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(mp, "keep.txt")));
        if (!OperatingSystem.IsLinux()) return;
        Assert.Null(MountTable.Find(mp));
        // The server started beside the launcher's own checks refused too, and is gone.
        Assert.Empty(ProcessesNaming(mp));
    }

    /// <summary>Live processes whose command line names <paramref name="text"/>.</summary>
    private static List<int> ProcessesNaming(string text)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0').Contains(text)) found.Add(pid);
            }
            catch (IOException) { } // exited meanwhile
        }
        return found;
    }

    [Theory]
    [InlineData(true, "mount", "vm.vmdk", "/mnt/x")]
    [InlineData(true, "mount", "vm.vmdk", "-g", "3", "/mnt/x", "--write")]
    [InlineData(false, "mount", "vm.vmdk", "/mnt/x", "--foreground")]
    [InlineData(false, "mount", "vm.vmdk", "/mnt/x", "-f")]
    [InlineData(false, "mount", "vm.vmdk", "/mnt/x", "-fg", "3")]
    [InlineData(false, "mount", "--help")]
    [InlineData(false, "mount", "-h")]
    [InlineData(false, "mount")]
    [InlineData(false, "info", "vm.vmdk")]
    public void Only_a_detached_mount_starts_its_server_before_parsing(bool early, params string[] args) =>
        Assert.Equal(early, MountChain.Cli.Commands.MountCommands.StartsDetachedServer(args));

    [RequiresFuseFact]
    public void Mount_nonempty_hides_the_folder_until_unmounted()
    {
        string image = _dir.RandomImage("image.raw", 1 << 20);
        string mp = _dir.Dir("mnt");
        File.WriteAllText(Path.Combine(mp, "keep.txt"), "mine");
        try
        {
            Ok(MountChainCli.Run("mount", "--nonempty", image, mp));
            Assert.True(File.Exists(Path.Combine(mp, "disk.raw")));
            Assert.Equal(Hashing.Sha256File(image), Hashing.Sha256File(Path.Combine(mp, "disk.raw")));
            Ok(MountChainCli.Run("unmount", mp));
            Assert.Equal("mine", File.ReadAllText(Path.Combine(mp, "keep.txt")));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }
    }

    [RequiresFuseFact]
    public void Mount_foreground_says_when_it_is_ready_and_unmount_names_the_redo_log()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "disk.vmdk", "4M");
        string mp = _dir.Dir("mnt");
        string redo = _dir.File("writes.vmdk");
        using var server = Process.Start(MountChainCli.StartInfo("mount", _dir.File("disk.vmdk"), mp, "--write", "--redo", redo, "--foreground"))!;
        try
        {
            var ready = Task.Run(() =>
            {
                while (server.StandardError.ReadLine() is { } line)
                    if (line.Contains("ready", StringComparison.Ordinal)) return line;
                return null;
            });
            Assert.True(ready.Wait(TimeSpan.FromSeconds(60)), "no ready line within 60 s");
            Assert.NotNull(ready.Result);
            Assert.Contains(mp, ready.Result);
            Assert.Contains(redo, ready.Result);
            // Ready means ready: the disk is there as soon as the line is.
            Assert.True(File.Exists(Path.Combine(mp, "disk.raw")));

            var unmounted = Ok(MountChainCli.Run("unmount", mp));
            Assert.Contains(redo, unmounted.Stdout);
            Assert.True(server.WaitForExit(15_000));
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            Unmounter.Unmount(mp, lazy: true);
        }
    }

    [Fact]
    public void Cat_refuses_a_terminal_and_writes_to_a_pipe_or_to_output()
    {
        string image = _dir.RandomImage("image.raw", 1 << 20);
        // script(1) gives the command a real pseudo-terminal as stdout.
        string command = $"{MountChainCli.ShellCommand} cat '{image}'";
        var tty = ProcessRunner.Run("script", ["-qec", command, "/dev/null"], timeout: TimeSpan.FromMinutes(1));
        Assert.Equal(2, tty.ExitCode);
        Assert.Contains("terminal", tty.Stdout);
        Assert.True(tty.StdoutBytes.Length < 4096, "binary reached the terminal");

        var piped = Ok(MountChainCli.Run("cat", image));
        Assert.Equal(File.ReadAllBytes(image), piped.StdoutBytes);
        Ok(MountChainCli.Run("cat", image, "-o", _dir.File("copy.raw")));
        Assert.Equal(File.ReadAllBytes(image), File.ReadAllBytes(_dir.File("copy.raw")));
        Assert.Equal(2, MountChainCli.Run("cat", image, "-o", image).ExitCode);
    }
}
