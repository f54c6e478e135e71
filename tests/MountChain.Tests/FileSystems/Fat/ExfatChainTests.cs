using System.Text.Json;
using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// A GPT disk with an EFI System Partition (mkfs.fat -F 32) and an exFAT data partition
/// (mkfs.exfat), the exFAT one changed through exfat-fuse between the generations of a qemu-made
/// VMDK chain. Every generation must hash, list, extract and diff as exfat-fuse showed it.
/// </summary>
public sealed class ExfatChainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-exfat-chain-").FullName;
    private string P(string name) => Path.Combine(_dir, name);

    public void Dispose()
    {
        foreach (var m in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(_dir, StringComparison.Ordinal)))
            ProcessRunner.Run("umount", "-l", m);
        Directory.Delete(_dir, true);
    }

    private static readonly string LongName = new string('n', 200) + " – ✓.txt";

    private static readonly string[] Changes =
    [
        $"""
        mkdir -p Documents/Reports 'Ünïcödé Földer' many
        echo hello > Documents/readme.txt; touch -d '2021-06-07 08:09:11' Documents/readme.txt
        head -c 3000000 /dev/urandom > Documents/Reports/contiguous.bin
        for i in $(seq 1 60); do head -c 4096 /dev/urandom >> frag-a.bin; head -c 4096 /dev/urandom >> frag-b.bin; done
        echo x > 'Ünïcödé Földer/ファイル名.txt'; echo y > '{LongName}'
        d=deep; for i in $(seq 1 12); do d=$d/level$i; mkdir -p $d; done; echo bottom > $d/b.txt
        : > empty.txt; touch -d '1999-12-31 23:59:59' empty.txt
        for i in $(seq 1 300); do echo $i > many/file-with-a-longer-name-$i.txt; done
        """,
        """
        echo changed > Documents/readme.txt
        rm frag-b.bin; head -c 123457 /dev/urandom >> frag-a.bin
        mv 'Ünïcödé Földer' 'Renamed Földer'
        head -c 777 /dev/urandom > added.bin; touch -d '2030-01-01 00:00:01' added.bin
        """,
        """
        truncate -s 100000 Documents/Reports/contiguous.bin
        rm -r deep/level1/level2
        for i in $(seq 1 2 300); do rm many/file-with-a-longer-name-$i.txt; done
        echo new > many/NEW.TXT
        """,
    ];

    private sealed record View(string Manifest, string Times, string[] Paths);

    private static View ViewOf(string root) => new(
        Mtools.Manifest(root), Mtools.Times(root),
        ProcessRunner.Bash("find . -mindepth 1 -printf '/%P\\n'", root).Split('\n', StringSplitOptions.RemoveEmptyEntries));

    [FileSystemToolsFact("mkfs.fat", "mkfs.exfat", "mount.exfat-fuse", "mcopy", "sfdisk", "losetup", "qemu-img", "qemu-io", NeedsRootAndFuse = true)]
    public void Each_generation_of_an_exfat_data_partition_reads_as_exfat_fuse_shows_it()
    {
        var raws = new[] { P("g0.raw"), P("g1.raw"), P("g2.raw") };
        ProcessRunner.Bash($"truncate -s 80M {raws[0]} && printf 'label: gpt\\nsize=34MiB,type=U\\nsize=40MiB\\n' | sfdisk -q {raws[0]}");
        var parts = JsonDocument.Parse(ProcessRunner.Bash($"sfdisk --json {raws[0]}")).RootElement.GetProperty("partitiontable").GetProperty("partitions")
            .EnumerateArray().Select(p => (Offset: p.GetProperty("start").GetInt64() * 512, Size: p.GetProperty("size").GetInt64() * 512)).ToArray();
        ProcessRunner.Bash($"mkfs.fat -F 32 -s 1 -n ESP --offset {parts[0].Offset / 512} {raws[0]} {parts[0].Size / 1024} >/dev/null 2>&1");
        var esp = new Mtools(raws[0], parts[0].Offset);
        esp.Run("mmd -i \"$I\" ::/EFI ::/EFI/BOOT; head -c 100000 /dev/urandom > B.EFI; mcopy -i \"$I\" B.EFI ::/EFI/BOOT/BOOTX64.EFI", _dir);
        using (var loop = new LoopDevice(raws[0], parts[1].Offset, parts[1].Size, readOnly: false))
            ProcessRunner.Bash($"mkfs.exfat -L 'Data ✓' {loop.Device} >/dev/null");

        var views = new View[3];
        for (int g = 0; g < 3; g++)
        {
            if (g > 0) ProcessRunner.Bash($"cp --sparse=always {raws[g - 1]} {raws[g]}");
            using var m = new ExfatFuseMount(raws[g], parts[1].Offset, parts[1].Size, P($"fuse{g}"));
            m.Run(Changes[g]);
            views[g] = ViewOf(m.MountPoint);
        }
        string espTree = P("esp");
        esp.CopyOut(espTree, _dir);
        string chain = RawChain.Build(_dir, raws);
        var before = Directory.GetFiles(_dir, "*.vmdk").ToDictionary(f => f, Hashing.Sha256File);

        var volumes = JsonDocument.Parse(MountChainCli.Run("volumes", chain, "--json").StdoutBytes).RootElement.GetProperty("volumes").EnumerateArray()
            .Select(v => (v.GetProperty("filesystem").GetString(), v.GetProperty("label").GetString())).ToList();
        Assert.Equal([("vfat", "ESP"), ("exfat", "Data ✓")], volumes);

        for (int g = 0; g < 3; g++)
        {
            var r = MountChainCli.Run("files-hash", chain, "-g", g.ToString(), "--partition", "2");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(views[g].Manifest, r.Stdout);
            var ls = MountChainCli.Run("ls", chain, "-g", g.ToString(), "p2:/", "-r", "--json");
            Assert.True(ls.ExitCode == 0, ls.Stderr);
            var paths = JsonDocument.Parse(ls.StdoutBytes).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("path").GetString()!);
            Assert.Equal(views[g].Paths.Order(StringComparer.Ordinal), paths.Order(StringComparer.Ordinal));
        }
        var espHash = MountChainCli.Run("files-hash", chain, "--partition", "1");
        Assert.Equal(Mtools.Manifest(espTree), espHash.Stdout);

        for (int g = 0; g < 3; g++)
        {
            string target = P($"extract{g}");
            var x = MountChainCli.Run("extract", chain, "-g", g.ToString(), "p2:/", target);
            Assert.True(x.ExitCode == 0, x.Stderr);
            Assert.Equal(views[g].Manifest, Mtools.Manifest(target));
            Assert.Equal(views[g].Times, Mtools.Times(target)); // exfat-fuse shows whole seconds; ours floor to the same
        }

        for (int g = 1; g < 3; g++)
        {
            var diff = MountChainCli.Run("diff", chain, "--from", (g - 1).ToString(), "--to", g.ToString(), "--files");
            Assert.True(diff.ExitCode == 0, diff.Stderr);
            Assert.Equal(FatChainTests.ManifestChanges(views[g - 1].Manifest, views[g].Manifest, "p2").Order(StringComparer.Ordinal),
                diff.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        }

        // Names compare through the volume's up-case table, non-ASCII included; listings keep the stored case.
        var cat = MountChainCli.Run("cat-file", chain, "-g", "0", "p2:/ÜNÏCÖDÉ FÖLDER/ファイル名.TXT");
        Assert.True(cat.ExitCode == 0, cat.Stderr);
        Assert.Equal("x\n", cat.Stdout);
        var one = MountChainCli.Run("ls", chain, "-g", "0", "p2:/documents/README.TXT", "--json");
        Assert.Equal("/Documents/readme.txt", JsonDocument.Parse(one.StdoutBytes).RootElement.GetProperty("entries")[0].GetProperty("path").GetString());

        string mp = Directory.CreateDirectory(P("mnt")).FullName;
        var mounted = MountChainCli.Run("mount", chain, "-g", "1", mp, "--files");
        Assert.True(mounted.ExitCode == 0, mounted.Stderr);
        try
        {
            Assert.Equal(views[1].Manifest, Mtools.Manifest(Path.Combine(mp, "p2")));
            Assert.Equal(views[1].Times, Mtools.Times(Path.Combine(mp, "p2")));
            Assert.Equal("changed\n", File.ReadAllText(Path.Combine(mp, "p2", "DOCUMENTS", "Readme.TXT")));
        }
        finally { Assert.Equal(0, MountChainCli.Run("unmount", mp).ExitCode); }

        Assert.Equal(before, Directory.GetFiles(_dir, "*.vmdk").ToDictionary(f => f, Hashing.Sha256File));
    }
}
