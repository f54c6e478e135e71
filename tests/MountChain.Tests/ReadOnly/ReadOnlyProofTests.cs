using MountChain.Mounting.Lifecycle;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.ReadOnly;

/// <summary>
/// The read-only promise, proven: every read-only command and front-end over a chain of each
/// subformat qemu makes (and a partitioned disk with a FAT file system) leaves every input file's
/// sha256, size and mtime unchanged, and strace of the whole process tree shows no input opened
/// for writing. <see cref="The_guard_catches_a_command_that_writes_an_input"/> shows the check fails
/// when an input is written.
/// </summary>
public sealed class ReadOnlyProofTests
{
    public static TheoryData<string> Subformats => ["monolithicSparse", "twoGbMaxExtentSparse", "monolithicFlat", "twoGbMaxExtentFlat", "streamOptimized"];

    /// <summary>base.vmdk of <paramref name="subformat"/> with data, and c1.vmdk (monolithicSparse) on it.</summary>
    private static string[] MakeChain(string dir, string subformat)
    {
        string make = subformat == "streamOptimized"
            ? "qemu-img create -q -f vmdk fill.vmdk 8M; qemu-io -f vmdk -c 'write -P 0x41 0 1M' -c 'write -P 0x42 3M 512k' fill.vmdk >/dev/null; qemu-img convert -O vmdk -o subformat=streamOptimized fill.vmdk base.vmdk; rm fill.vmdk"
            : $"qemu-img create -q -f vmdk -o subformat={subformat} base.vmdk 8M; qemu-io -f vmdk -c 'write -P 0x41 0 1M' -c 'write -P 0x42 3M 512k' base.vmdk >/dev/null";
        Bash($"{make}; qemu-img create -q -f vmdk -b base.vmdk -F vmdk c1.vmdk; qemu-io -f vmdk -c 'write -P 0x43 512k 1M' c1.vmdk >/dev/null", dir);
        return Directory.GetFiles(dir);
    }

    /// <summary>An ESXi chain: a VMFS flat base, a COWD delta and a SESparse delta on it (written by the ESXi test builders).</summary>
    private static string[] MakeEsxiChain(string dir)
    {
        const long capacity = 12L << 11;
        var raw = Esxi.EsxiImageBuilder.Pattern((int)capacity * 512, 1);
        Esxi.EsxiImageBuilder.WriteVmfsBase(dir, "vm", raw, 0x11111111);
        Esxi.EsxiChainTests.Cowd(2).WriteLink(dir, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        Esxi.EsxiChainTests.SeSparse(3, capacity).WriteLink(dir, "vm-000002", 0x33333333, 0x22222222, "vm-000001.vmdk");
        return Directory.GetFiles(dir);
    }

    [StraceFact]
    public void Read_only_commands_never_write_an_esxi_chain()
    {
        using var dir = new TempDirectory("mc-ro");
        string chainDir = dir.Dir("chain"), outDir = dir.Dir("out");
        var guard = new InputGuard(MakeEsxiChain(chainDir), dir.Dir("traces"));
        RunBlockCommands(guard, Path.Combine(chainDir, "vm-000002.vmdk"), outDir);
        RunServe(guard, Path.Combine(chainDir, "vm-000002.vmdk"), outDir);
    }

    /// <summary>An MBR disk with one FAT16 partition holding files (mkfs.vfat + mtools, no mount), as base.vmdk + c1.vmdk.</summary>
    private static string[] MakeFatChain(string dir)
    {
        Bash("""
            truncate -s 48M disk.raw
            printf 'label: dos\nstart=2048, size=81920, type=6\n' | sfdisk -q disk.raw
            mkfs.vfat -F 16 -n PROOF --offset 2048 disk.raw 40960 >/dev/null
            echo hello > hello.txt; head -c 300000 /dev/urandom > random.bin
            mmd -i disk.raw@@1048576 ::/dir
            mcopy -i disk.raw@@1048576 hello.txt ::/dir/hello.txt
            mcopy -i disk.raw@@1048576 random.bin ::/random.bin
            qemu-img convert -f raw -O vmdk disk.raw base.vmdk
            rm disk.raw hello.txt random.bin
            qemu-img create -q -f vmdk -b base.vmdk -F vmdk c1.vmdk
            qemu-io -f vmdk -c 'write -P 0x44 46M 64k' c1.vmdk >/dev/null
            """, dir);
        return Directory.GetFiles(dir);
    }

    /// <summary>The block-level read-only commands, each under strace, each leaving the chain untouched.</summary>
    private static void RunBlockCommands(InputGuard guard, string top, string outDir)
    {
        string[][] commands =
        [
            ["info", top], ["info", top, "--json"], ["hash", top], ["hash", top, "-g", "0"], ["cat", top],
            ["convert", top, Path.Combine(outDir, "gen1.raw")], ["map", top, "--json"], ["changed", top, "--from", "0", "--to", "1"],
            ["diff", top, "--from", "0", "--to", "1"], ["volumes", top], ["hash", top, "--single-link"],
            ["check", top], ["check", top, "--json"], ["tree", Path.GetDirectoryName(top)!], ["tree", Path.GetDirectoryName(top)!, "--json"],
        ];
        foreach (var args in commands)
        {
            var (result, trace) = guard.Run(args);
            Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: exit {result.ExitCode}: {result.Stderr}");
            guard.AssertUntouched(string.Join(' ', args), trace);
            Assert.True(guard.SawInputOpened(trace), $"{string.Join(' ', args)}: the trace shows no input opened");
        }
    }

    [StraceTheory]
    [MemberData(nameof(Subformats))]
    public void Read_only_commands_never_write_a_chain_of_each_subformat(string subformat)
    {
        using var dir = new TempDirectory("mc-ro");
        string chainDir = dir.Dir("chain"), outDir = dir.Dir("out");
        var guard = new InputGuard(MakeChain(chainDir, subformat), dir.Dir("traces"));
        RunBlockCommands(guard, Path.Combine(chainDir, "c1.vmdk"), outDir);
        RunServe(guard, Path.Combine(chainDir, "c1.vmdk"), outDir);
    }

    [StraceFact("sfdisk", "mkfs.vfat", "mcopy")]
    public void Read_only_commands_never_write_a_partitioned_disk_with_a_file_system()
    {
        using var dir = new TempDirectory("mc-ro");
        string chainDir = dir.Dir("chain"), outDir = dir.Dir("out");
        var guard = new InputGuard(MakeFatChain(chainDir), dir.Dir("traces"));
        string top = Path.Combine(chainDir, "c1.vmdk");
        RunBlockCommands(guard, top, outDir);
        string[][] commands =
        [
            ["ls", top, "p1:/", "-r", "-l"], ["ls", top, "p1:/dir", "--json"], ["cat-file", top, "p1:/dir/hello.txt"],
            ["extract", top, "p1:/", Path.Combine(outDir, "extracted")], ["files-hash", top, "--partition", "1"],
            ["diff", top, "--from", "0", "--to", "1", "--files"],
        ];
        foreach (var args in commands)
        {
            var (result, trace) = guard.Run(args);
            Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: exit {result.ExitCode}: {result.Stderr}");
            guard.AssertUntouched(string.Join(' ', args), trace);
        }
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(outDir, "extracted", "dir", "hello.txt")));
        RunServe(guard, top, outDir);
    }

    [RequiresFuseFact("qemu-img", "strace", "sfdisk", "mkfs.vfat", "mcopy")]
    public void Read_only_mounts_never_write_their_inputs()
    {
        using var dir = new TempDirectory("mc-ro");
        string chainDir = dir.Dir("chain");
        var guard = new InputGuard(MakeFatChain(chainDir), dir.Dir("traces"));
        string top = Path.Combine(chainDir, "c1.vmdk");

        string blockMount = dir.Dir("block");
        RunMount(guard, [top, blockMount], Path.Combine(blockMount, "disk.raw"), file =>
            Assert.Equal(48L << 20, new FileInfo(file).Length));

        string filesMount = dir.Dir("files");
        RunMount(guard, [top, filesMount, "--files"], Path.Combine(filesMount, "p1", "dir", "hello.txt"), file =>
            Assert.Equal("hello\n", File.ReadAllText(file)));
    }

    [StraceFact]
    public void The_guard_catches_a_command_that_writes_an_input()
    {
        using var dir = new TempDirectory("mc-ro");
        string chainDir = dir.Dir("chain");
        var guard = new InputGuard(MakeChain(chainDir, "monolithicSparse"), dir.Dir("traces"));
        // commit writes the child's grains into base.vmdk: exactly what the guard must see.
        var (result, trace) = guard.Run("commit", Path.Combine(chainDir, "c1.vmdk"), "--force");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var violations = guard.Violations(trace);
        Assert.Contains(violations, line => line.Contains("base.vmdk") && (line.Contains("O_RDWR") || line.Contains("O_WRONLY")));
        Assert.ThrowsAny<Exception>(() => guard.AssertUntouched("commit", trace));
    }

    /// <summary>`serve` under strace while qemu-img reads the export; stopped with SIGTERM.</summary>
    private static void RunServe(InputGuard guard, string top, string outDir)
    {
        var (strace, trace) = guard.Start("serve", top, "--listen", "127.0.0.1:0");
        using (strace)
        {
            try
            {
                var read = strace.StandardOutput.ReadLineAsync();
                Assert.True(read.Wait(TimeSpan.FromSeconds(60)), "serve printed no URI");
                string line = read.Result ?? "";
                Assert.Contains("nbd://", line);
                Check("qemu-img", "convert", "-f", "raw", "-O", "raw", line.Split(' ')[^1], Path.Combine(outDir, "served.raw"));
                Check("kill", "-TERM", InputGuard.TracedPid(strace).ToString());
                Assert.True(strace.WaitForExit(30_000), "serve did not stop on SIGTERM");
            }
            finally
            {
                if (!strace.HasExited) strace.Kill(entireProcessTree: true);
            }
        }
        guard.AssertUntouched("serve", trace);
    }

    /// <summary>`mount --foreground` under strace; <paramref name="check"/> reads <paramref name="probe"/>; then unmount.</summary>
    private static void RunMount(InputGuard guard, string[] args, string probe, Action<string> check)
    {
        var (strace, trace) = guard.Start(["mount", .. args, "--foreground"]);
        string mountPoint = args[1];
        using (strace)
        {
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (!File.Exists(probe))
                {
                    Assert.False(strace.HasExited, "mount exited: " + (strace.HasExited ? strace.StandardError.ReadToEnd() : ""));
                    Assert.True(DateTime.UtcNow < deadline, "the mount never appeared");
                    Thread.Sleep(50);
                }
                check(probe);
                Bash($"cat '{probe}' > /dev/null");
                var unmounted = MountChainCli.Run("unmount", mountPoint);
                Assert.True(unmounted.ExitCode == 0, unmounted.Stderr);
                Assert.True(strace.WaitForExit(30_000), "the mount server did not exit after unmount");
            }
            finally
            {
                if (!strace.HasExited) { MountChainCli.Run("unmount", "--lazy", mountPoint); strace.Kill(entireProcessTree: true); }
            }
        }
        Assert.Null(MountTable.Find(mountPoint));
        guard.AssertUntouched($"mount {string.Join(' ', args)}", trace);
    }
}
