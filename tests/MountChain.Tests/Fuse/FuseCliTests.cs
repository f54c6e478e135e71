using System.Diagnostics;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Fuse;

/// <summary>`mountchain mount` / `unmount` as a user runs them: detached servers, signals, stale mounts, errors.</summary>
public sealed class FuseCliTests
{
    [RequiresFuseFact]
    public void Mount_returns_once_disk_raw_is_served_and_unmount_stops_the_server()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        File.WriteAllBytes(image, FuseBlockFileMountTests.RandomBytes(8 << 20, 11));
        string mp = scratch.Dir("mnt");
        try
        {
            var mounted = MountChainCli.Run("mount", image, mp);
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            Assert.Equal(FuseBlockFileMountTests.Sha256(image), FuseBlockFileMountTests.Sha256(Path.Combine(mp, "disk.raw")));
            int? pid = ServerRegistry.Lookup(mp);
            Assert.NotNull(pid);
            Assert.True(ServerRegistry.IsAlive(pid!.Value));

            var unmounted = MountChainCli.Run("unmount", mp);
            Assert.True(unmounted.ExitCode == 0, unmounted.Stderr);
            Assert.Null(MountTable.Find(mp));
            Assert.True(ServerRegistry.WaitForExit(pid.Value, TimeSpan.FromSeconds(5)));
            Assert.Null(ServerRegistry.Lookup(mp));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }
    }

    [RequiresFuseFact]
    public void Sigterm_to_a_foreground_server_unmounts_and_exits_cleanly()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        File.WriteAllBytes(image, FuseBlockFileMountTests.RandomBytes(4 << 20, 12));
        string mp = scratch.Dir("mnt");
        using var server = Process.Start(MountChainCli.StartInfo("mount", image, mp, "--foreground"))!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(Path.Combine(mp, "disk.raw")))
            {
                Assert.False(server.HasExited, server.HasExited ? server.StandardError.ReadToEnd() : "");
                Assert.True(DateTime.UtcNow < deadline, "the mount never appeared");
                Thread.Sleep(20);
            }
            ProcessRunner.Check("kill", "-TERM", server.Id.ToString());
            Assert.True(server.WaitForExit(15_000), "the server did not exit after SIGTERM");
            Assert.Equal(0, server.ExitCode);
            Assert.Null(MountTable.Find(mp));
            Assert.Null(ServerRegistry.Lookup(mp));
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            Unmounter.Unmount(mp, lazy: true);
        }
    }

    [RequiresFuseFact]
    public void Unmount_clears_a_stale_mount_left_by_a_killed_server()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        File.WriteAllBytes(image, FuseBlockFileMountTests.RandomBytes(4 << 20, 13));
        string mp = scratch.Dir("mnt");
        try
        {
            Assert.Equal(0, MountChainCli.Run("mount", image, mp).ExitCode);
            int pid = ServerRegistry.Lookup(mp)!.Value;
            ProcessRunner.Check("kill", "-KILL", pid.ToString());
            Assert.True(ServerRegistry.WaitForExit(pid, TimeSpan.FromSeconds(10)));
            var stale = Record.Exception(() => Directory.EnumerateFileSystemEntries(mp).ToList());
            Assert.NotNull(stale);
            // ENOTCONN, or ECONNABORTED if the kernel is still tearing the dead connection down, or
            // ECANCELED for a request caught on a dead server's io_uring queue (seen on a loaded machine).
            Assert.True(stale.Message.Contains("not connected", StringComparison.OrdinalIgnoreCase) ||
                        stale.Message.Contains("connection abort", StringComparison.OrdinalIgnoreCase) ||
                        stale.Message.Contains("canceled", StringComparison.OrdinalIgnoreCase), stale.Message);

            var cleared = MountChainCli.Run("unmount", mp);
            Assert.True(cleared.ExitCode == 0, cleared.Stderr);
            Assert.Null(MountTable.Find(mp));
            Assert.Empty(Directory.EnumerateFileSystemEntries(mp));
        }
        finally { Unmounter.Unmount(mp, lazy: true); }
    }

    [RequiresFuseFact]
    public void Mount_on_a_missing_directory_fails_with_one_line_naming_it()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        File.WriteAllBytes(image, new byte[1 << 20]);
        string missing = scratch.File("no-such-dir");
        var r = MountChainCli.Run("mount", image, missing);
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("mountchain: ", lines[0]);
        Assert.Contains(missing, lines[0]);
    }

    [RequiresFuseFact]
    public void Writable_mount_without_the_redo_log_is_refused_clearly()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        File.WriteAllBytes(image, new byte[1 << 20]);
        var r = MountChainCli.Run("mount", image, scratch.Dir("mnt"), "--write");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("redo log", r.Stderr);
        Assert.Null(MountTable.Find(scratch.File("mnt")));
    }

    [RequiresFuseFact]
    public void Unmount_of_a_directory_that_is_not_mounted_says_so()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var r = MountChainCli.Run("unmount", scratch.Dir("mnt"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("not mounted", r.Stderr);
    }
}
