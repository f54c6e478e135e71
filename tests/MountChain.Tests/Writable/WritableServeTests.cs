using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;
using MountChain.Tests.Nbd;
using static MountChain.Tests.Writable.WritableKit;

namespace MountChain.Tests.Writable;

/// <summary>
/// `mountchain serve --write [--redo FILE]`: real NBD clients (qemu-io, qemu-img, nbdcopy, nbdinfo)
/// write a generation through a redo log; a shadow copy in memory says what every byte must be.
/// </summary>
public sealed class WritableServeTests
{
    private const int MiB = 1 << 20;

    [NbdToolsFact]
    public void Nbd_writes_land_in_the_redo_log_and_after_sigterm_qemu_reads_the_same_bytes()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (baseVmdk, child) = RandomChain(scratch, 16 * MiB, seed: 61);
        var parents = Hashes(baseVmdk, child);
        string generation1 = scratch.File("generation1.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", child, generation1);
        byte[] shadow = File.ReadAllBytes(generation1);
        string edit = scratch.File("edit.vmdk");

        using (var server = ServeProcess.Start(child, "--write", "--redo", edit, "--listen", "127.0.0.1:0"))
        {
            Assert.Contains("is_read_only: false", ProcessRunner.Check("nbdinfo", server.Uri));

            // nbdcopy of a file smaller than the export writes its bytes at the start and nothing else.
            string random = scratch.File("random.bin");
            File.WriteAllBytes(random, FuseBlockFileMountTests.RandomBytes(3 * MiB + 4096, 62));
            ProcessRunner.Check("nbdcopy", random, server.Uri);
            File.ReadAllBytes(random).CopyTo(shadow, 0);

            var commands = new List<string>();
            void Pattern(byte value, long offset, int length)
            {
                commands.Add($"write -P 0x{value:x2} {offset} {length}");
                shadow.AsSpan((int)offset, length).Fill(value);
            }
            void Zero(string verb, long offset, int length)
            {
                commands.Add($"{verb} {offset} {length}");
                shadow.AsSpan((int)offset, length).Clear();
            }
            Pattern(0x11, 6 * MiB, MiB);             // whole grains over parent data
            Pattern(0x22, 1_234_567, 70_000);         // unaligned, inside nbdcopy's bytes and beyond
            Pattern(0x33, 16 * MiB - 512, 512);       // the last sector
            Zero("write -z", 512 * 1024, 64 * 1024);  // zeroed grain over nbdcopy's data
            Zero("write -z", 3000, 10_000);           // unaligned zeros
            Zero("discard", 8 * MiB, MiB);            // grain-aligned TRIM reads back as zeros
            Pattern(0x44, 8 * MiB + 65_536, 4096);    // a write into a discarded grain
            commands.Add("flush");
            commands.Add("read -P 0x22 1234567 70000");
            commands.Add("read -P 0 8388608 65536");
            var io = ProcessRunner.Run("qemu-io", ["-f", "raw", server.Uri, .. commands.SelectMany(c => new[] { "-c", c })]);
            Assert.True(io.ExitCode == 0 && !io.Stdout.Contains("fail", StringComparison.OrdinalIgnoreCase) && !io.Stderr.Contains("error", StringComparison.OrdinalIgnoreCase),
                $"qemu-io: {io.Stdout}{io.Stderr}");

            string overNbd = scratch.File("over-nbd.raw");
            ProcessRunner.Check("qemu-img", "convert", "-f", "raw", "-O", "raw", server.Uri, overNbd);
            AssertEqualToShadow(shadow, overNbd, "qemu-img convert of the export");

            Assert.Equal(0, server.Signal("TERM"));
        }

        Assert.False(UncleanShutdown(edit), "SIGTERM left the log marked uncleanShutdown");
        AssertQemuCheckClean(edit);
        Assert.Equal("child.vmdk", BackingFile(edit));
        string fromLog = scratch.File("from-log.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", edit, fromLog);
        AssertEqualToShadow(shadow, fromLog, "qemu-img convert of the redo log");
        Assert.Equal(FuseBlockFileMountTests.Sha256(fromLog), MountchainHash(edit));
        AssertUnchanged(parents);

        // The log attaches again: a second session sees the first one's bytes and adds its own.
        using (var server = ServeProcess.Start(child, "--write", "--redo", edit, "--listen", "127.0.0.1:0"))
        {
            ProcessRunner.Check("qemu-io", "-f", "raw", server.Uri, "-c", "write -P 0x55 100000 3000");
            shadow.AsSpan(100_000, 3000).Fill(0x55);
            Assert.Equal(0, server.Signal("TERM"));
        }
        AssertQemuCheckClean(edit);
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", edit, fromLog);
        AssertEqualToShadow(shadow, fromLog, "the log after a second session");
        AssertUnchanged(parents);
    }

    [QemuFact]
    public void Serving_a_redo_log_made_on_other_content_is_refused_with_one_line()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (_, child) = RandomChain(scratch, 8 * MiB, seed: 63);
        string edit = scratch.File("edit.vmdk");
        ProcessRunner.Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", child, "-F", "vmdk", edit); // a child of generation 1
        var before = Hashes(edit);
        var r = MountChainCli.Run("serve", child, "-g", "0", "--write", "--redo", edit, "--listen", "127.0.0.1:0");
        AssertOneLineError(r, 1, edit, "parentCID");
        AssertUnchanged(before);
    }

    [QemuFact]
    public void Serve_refuses_a_redo_log_that_is_a_link_of_the_chain_or_the_parent_of_another_link()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (baseVmdk, child) = RandomChain(scratch, 8 * MiB, seed: 65);
        string grand = scratch.File("grand.vmdk");
        ProcessRunner.Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", child, "-F", "vmdk", grand);
        var links = Hashes(baseVmdk, child, grand);

        // child.vmdk was made on generation 0, so its parentCID matches: only its place in the chain forbids writing it.
        var ownLink = MountChainCli.Run(TimeSpan.FromSeconds(30), "serve", grand, "-g", "0", "--write", "--redo", child, "--listen", "127.0.0.1:0");
        AssertOneLineError(ownLink, 1, child, "generation 1");
        var parentOfGrand = MountChainCli.Run(TimeSpan.FromSeconds(30), "serve", baseVmdk, "--write", "--redo", child, "--listen", "127.0.0.1:0");
        AssertOneLineError(parentOfGrand, 1, child, grand);
        AssertUnchanged(links);
    }

    [QemuFact]
    public void Serve_write_with_ignore_cid_is_a_usage_error()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (_, child) = RandomChain(scratch, 8 * MiB, seed: 64);
        AssertOneLineError(MountChainCli.Run("serve", child, "--write", "--ignore-cid", "--listen", "127.0.0.1:0"), 2, "--ignore-cid");
        Assert.Equal(["base.vmdk", "child.vmdk"], Directory.GetFiles(scratch.Path, "*.vmdk").Select(Path.GetFileName).Order());
    }

    private static void AssertEqualToShadow(byte[] shadow, string file, string what)
    {
        byte[] actual = File.ReadAllBytes(file);
        Assert.Equal(shadow.Length, actual.Length);
        int first = shadow.AsSpan().CommonPrefixLength(actual);
        Assert.True(first == shadow.Length, $"{what} differs from the shadow first at byte {first}");
    }
}
