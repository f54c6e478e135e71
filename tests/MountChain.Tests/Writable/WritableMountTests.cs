using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;
using static MountChain.Tests.Writable.WritableKit;

namespace MountChain.Tests.Writable;

/// <summary>
/// `mountchain mount --write [--redo FILE]` as a user runs it: the kernel writes a file system
/// through MOUNTPOINT/disk.raw, and afterwards qemu and the kernel read the result back from the
/// redo log alone, while the chain's links stay byte-identical.
/// </summary>
public sealed class WritableMountTests
{
    private const int MiB = 1 << 20;

    [RequiresFuseFact("qemu-img", "qemu-io", "mkfs.ext4", "sfdisk", "losetup", "partx", "mount", "umount")]
    public void Ext4_files_written_through_a_writable_mount_are_in_the_redo_log_and_the_parents_are_untouched()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var original = Ext4DiskImage.WriteSampleFiles(scratch.Dir("content"), seed: 31);
        var (baseVmdk, child, partitionSize) = Ext4Chain(scratch, scratch.File("content"));
        var parents = Hashes(baseVmdk, child);
        string edit = scratch.File("edit.vmdk");
        string mp = scratch.Dir("mnt"), fs = scratch.Dir("fs");

        var random = new Random(32);
        var written = new Dictionary<string, byte[]>();
        foreach (var (name, size) in new[] { ("new/one-byte", 1), ("new/page.bin", 4096), ("new/odd.bin", 65_537), ("new/three-mib.bin", 3 * MiB), ("new/deep/five-mib.bin", 5 * MiB + 123) })
        {
            written[name] = new byte[size];
            random.NextBytes(written[name]);
        }
        byte[] rewrittenHello = "rewritten through the redo log\n"u8.ToArray();

        try
        {
            var mounted = MountChainCli.Run("mount", child, "-g", "1", mp, "--write", "--redo", edit);
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            Assert.True(File.Exists(edit), "the redo log named by --redo was not created");
            using (var loop = new LoopDevice(Path.Combine(mp, "disk.raw"), readOnly: false, partitions: true))
            using (new KernelMount(loop.Partition(1), fs, readOnly: false))
            {
                foreach (var (name, bytes) in written)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(fs, name))!);
                    File.WriteAllBytes(Path.Combine(fs, name), bytes);
                }
                File.WriteAllBytes(Path.Combine(fs, "hello.txt"), rewrittenHello);
                File.Delete(Path.Combine(fs, "dir/sub/odd.bin"));
                ProcessRunner.Check("sync", "-f", fs);
            }
            var unmounted = MountChainCli.Run("unmount", mp);
            Assert.True(unmounted.ExitCode == 0, unmounted.Stderr);
            Assert.Null(MountTable.Find(mp));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }

        AssertQemuCheckClean(edit);
        Assert.False(UncleanShutdown(edit), "the log was left marked uncleanShutdown after a clean unmount");
        Assert.Equal("child.vmdk", BackingFile(edit));
        AssertUnchanged(parents);

        // The kernel reads the edited file system back from what qemu makes of the log and its parents.
        string result = scratch.File("result.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", edit, result);
        Assert.Equal(FuseBlockFileMountTests.Sha256(result), MountchainHash(edit));
        using (var loop = new LoopDevice(result, Ext4DiskImage.PartitionOffset, partitionSize, readOnly: true))
        using (new KernelMount(loop.Device, fs, readOnly: true))
        {
            foreach (var (name, bytes) in written)
                Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(fs, name))), $"{name} differs");
            Assert.Equal(rewrittenHello, File.ReadAllBytes(Path.Combine(fs, "hello.txt")));
            Assert.Equal(original["dir/data.bin"], File.ReadAllBytes(Path.Combine(fs, "dir/data.bin")));
            Assert.False(File.Exists(Path.Combine(fs, "dir/sub/odd.bin")));
        }
    }

    [RequiresFuseFact("qemu-img", "qemu-io")]
    public void Write_without_redo_creates_a_fresh_log_beside_the_disk_names_it_and_qemu_reads_it_as_a_child()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (baseVmdk, child) = RandomChain(scratch, 16 * MiB, seed: 41);
        var parents = Hashes(baseVmdk, child);
        string expected = scratch.File("expected.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", child, expected);
        byte[] shadow = File.ReadAllBytes(expected);
        string mp = scratch.Dir("mnt");
        string log;
        try
        {
            var mounted = MountChainCli.Run("mount", child, mp, "--write");
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            var announced = System.Text.RegularExpressions.Regex.Match(mounted.Stderr, @"^mountchain: writes go to the new redo log (\S+)$", System.Text.RegularExpressions.RegexOptions.Multiline);
            Assert.True(announced.Success, $"the launcher did not name the new log: {mounted.Stderr}");
            log = announced.Groups[1].Value;
            Assert.Equal(scratch.Path, Path.GetDirectoryName(log));
            Assert.StartsWith("child-mc-", Path.GetFileName(log));
            Assert.True(File.Exists(log), $"{log} does not exist");

            // Unaligned, grain-straddling writes straight into disk.raw, then fsync.
            var random = new Random(42);
            using (var disk = File.OpenHandle(Path.Combine(mp, "disk.raw"), FileMode.Open, FileAccess.ReadWrite))
            {
                foreach (var (offset, length) in new[] { (123L, 100), (5L * MiB - 512, 1 * MiB + 1024), (16L * MiB - 4096, 4096) })
                {
                    var bytes = new byte[length];
                    random.NextBytes(bytes);
                    RandomAccess.Write(disk, bytes, offset);
                    bytes.CopyTo(shadow, offset);
                }
                RandomAccess.FlushToDisk(disk);
            }
            var unmounted = MountChainCli.Run("unmount", mp);
            Assert.True(unmounted.ExitCode == 0, unmounted.Stderr);
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }

        AssertQemuCheckClean(log);
        Assert.Equal("child.vmdk", BackingFile(log));
        string result = scratch.File("result.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", log, result);
        Assert.True(shadow.AsSpan().SequenceEqual(File.ReadAllBytes(result)), "qemu's view of the new log differs from the writes made");
        AssertUnchanged(parents);
        Assert.Equal(3, Directory.GetFiles(scratch.Path, "*.vmdk").Length); // base, child and the one new log
    }

    [RequiresFuseFact("qemu-img", "qemu-io")]
    public void Sigterm_to_a_foreground_writable_mount_names_its_new_log_and_closes_it_cleanly()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (baseVmdk, child) = RandomChain(scratch, 8 * MiB, seed: 45);
        var parents = Hashes(baseVmdk, child);
        string mp = scratch.Dir("mnt");
        using var server = System.Diagnostics.Process.Start(MountChainCli.StartInfo("mount", child, mp, "--write", "--foreground"))!;
        try
        {
            var named = server.StandardError.ReadLineAsync();
            Assert.True(named.Wait(TimeSpan.FromSeconds(60)), "the foreground server never named its redo log");
            var announced = System.Text.RegularExpressions.Regex.Match(named.Result ?? "", @"^mountchain: writes go to the new redo log (\S+)$");
            Assert.True(announced.Success, $"unexpected first line: {named.Result}");
            string log = announced.Groups[1].Value;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(Path.Combine(mp, "disk.raw")))
            {
                Assert.False(server.HasExited, "the server exited before mounting");
                Assert.True(DateTime.UtcNow < deadline, "the mount never appeared");
                Thread.Sleep(20);
            }
            // No fsync: SIGTERM itself must flush and close the log.
            using (var disk = File.OpenHandle(Path.Combine(mp, "disk.raw"), FileMode.Open, FileAccess.Write))
                RandomAccess.Write(disk, Enumerable.Repeat((byte)0x6b, 300_000).ToArray(), 2 * MiB + 777);
            ProcessRunner.Check("kill", "-TERM", server.Id.ToString());
            Assert.True(server.WaitForExit(30_000), "the server did not exit after SIGTERM");
            Assert.Equal(0, server.ExitCode);
            Assert.Null(MountTable.Find(mp));

            Assert.False(UncleanShutdown(log), "SIGTERM left the log marked uncleanShutdown");
            AssertQemuCheckClean(log);
            ProcessRunner.Check("qemu-io", "-r", "-f", "vmdk", log, "-c", $"read -P 0x6b {2 * MiB + 777} 300000", "-c", "read -P 0x5a 1M 256k");
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            Unmounter.Unmount(mp, lazy: true);
        }
        AssertUnchanged(parents);
    }

    [RequiresFuseFact("qemu-img", "qemu-io")]
    public void Mounting_a_redo_log_made_on_other_content_is_refused_with_one_line_and_the_log_is_untouched()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (_, child) = RandomChain(scratch, 8 * MiB, seed: 43);
        string edit = scratch.File("edit.vmdk");
        ProcessRunner.Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", child, "-F", "vmdk", edit); // a child of generation 1
        var before = Hashes(edit);
        string mp = scratch.Dir("mnt");
        try
        {
            var r = MountChainCli.Run("mount", child, "-g", "0", mp, "--write", "--redo", edit);
            AssertOneLineError(r, 1, edit, "parentCID");
            Assert.Null(MountTable.Find(mp));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }
        AssertUnchanged(before);
    }

    [RequiresFuseFact("qemu-img", "qemu-io")]
    public void Write_with_ignore_cid_is_a_usage_error_that_creates_nothing()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (_, child) = RandomChain(scratch, 8 * MiB, seed: 44);
        string mp = scratch.Dir("mnt");
        try
        {
            AssertOneLineError(MountChainCli.Run("mount", child, mp, "--write", "--ignore-cid"), 2, "--ignore-cid");
            AssertOneLineError(MountChainCli.Run("mount", child, mp, "--write", "--ignore-cid", "--redo", scratch.File("edit.vmdk")), 2, "--ignore-cid");
            Assert.Null(MountTable.Find(mp));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }
        Assert.Equal(["base.vmdk", "child.vmdk"], Directory.GetFiles(scratch.Path, "*.vmdk").Select(Path.GetFileName).Order());
    }
}
