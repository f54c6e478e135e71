using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>
/// A GPT disk with an ext4 partition and two LVM2 PVs (made by pvcreate/vgcreate/lvcreate and
/// vgcfgrestore on loop devices; no device-mapper here, so the file systems are placed at the LVs'
/// extents as lvs reports them), in a qemu-made VMDK chain whose generations the kernel's ext4
/// driver changed through loop mounts. Every command must see each generation as the kernel did.
/// </summary>
public sealed class ExtLvmChainTests : IDisposable
{
    private const int Grain = 65536;
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-ext-lvm-").FullName;
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "FileSystems", "Ext", name);

    public void Dispose()
    {
        ProcessRunner.Run("/bin/bash", "-c", $"grep -q ' {_dir}/' /proc/mounts && umount -l $(grep ' {_dir}/' /proc/mounts | cut -d' ' -f2); true");
        Directory.Delete(_dir, true);
    }

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>What the kernel shows of a mounted ext tree: sha256 manifest and a stat listing.</summary>
    private sealed record KernelView(string Manifest, string Listing);

    /// <summary>Path, type, mode, owner, size (files) and mtime to 100 ns (files and directories; extract does not set a symlink's own time), link target. FIFOs are not extracted.</summary>
    private static string ListingScript(string root) =>
        $"cd {root} && find . -mindepth 1 ! -path './lost+found*' ! -type p -printf '%P\\t%y\\t%m\\t%U\\t%G\\t%s\\t%T@\\t%l\\n' | " +
        "awk -F'\\t' -v OFS='\\t' '{ if ($2 != \"f\") $6 = \"-\"; if ($2 == \"l\") $7 = \"-\"; else sub(/[0-9][0-9][0-9]$/, \"\", $7); print }' | LC_ALL=C sort";

    /// <summary>Copies LV <paramref name="lv"/> out of <paramref name="disk"/>, runs <paramref name="script"/> in it through the kernel, and writes it back.</summary>
    private KernelView ChangeLv(string disk, string lv, string script)
    {
        string img = P($"{lv}.img"), mnt = P("mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"python3 {Fixture("place-lv.py")} {disk} {lv} {img} --read");
        ProcessRunner.Bash($"mount -o loop {img} {mnt}");
        KernelView view;
        try
        {
            ProcessRunner.Bash(script, mnt);
            ProcessRunner.Bash("sync");
            view = new KernelView(
                ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum", mnt),
                ProcessRunner.Bash(ListingScript(mnt)));
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        ProcessRunner.Bash($"python3 {Fixture("place-lv.py")} {disk} {lv} {img} && rm {img}");
        return view;
    }

    private void WriteChild(string parentVmdk, string parentRaw, string childRaw, string child)
    {
        ProcessRunner.Bash($"qemu-img create -q -f vmdk -b {Path.GetFileName(parentVmdk)} -F vmdk {child}", _dir);
        using var a = File.OpenHandle(parentRaw);
        using var b = File.OpenHandle(childRaw);
        var x = new byte[Grain];
        var y = new byte[Grain];
        var commands = new List<string>();
        for (long off = 0; off < RandomAccess.GetLength(b); off += Grain)
        {
            RandomAccess.Read(a, x, off);
            RandomAccess.Read(b, y, off);
            if (x.AsSpan().SequenceEqual(y)) continue;
            string chunk = P($"chunk{commands.Count}.bin");
            File.WriteAllBytes(chunk, y);
            commands.Add($"-c \"write -s {chunk} {off} {Grain}\"");
        }
        foreach (var batch in commands.Chunk(200)) ProcessRunner.Bash($"qemu-io -f vmdk {string.Join(' ', batch)} {child} >/dev/null");
        ProcessRunner.Bash($"rm -f {P("chunk")}*.bin");
    }

    private static ProcessResult Ok(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        return r;
    }

    [FileSystemToolsFact("mkfs.ext4", "pvcreate", "vgcfgrestore", "sfdisk", "qemu-img", "qemu-io", "python3", NeedsRootAndFuse = true)]
    public void Every_file_command_sees_each_generation_of_ext4_on_lvm_as_the_kernel_did()
    {
        string g0 = P("g0.raw"), g1 = P("g1.raw");
        ProcessRunner.Bash($"bash {Fixture("make-lvm-disk.sh")} {g0} 2>/dev/null");
        ProcessRunner.Bash($"truncate -s 40M {P("root.img")} && mkfs.ext4 -q -F -L root {P("root.img")} && python3 {Fixture("place-lv.py")} {g0} root {P("root.img")}");
        ProcessRunner.Bash($"truncate -s 40M {P("data.img")} && mkfs.ext4 -q -F -L data -O ^metadata_csum,^64bit {P("data.img")} && python3 {Fixture("place-lv.py")} {g0} data {P("data.img")} && rm {P("root.img")} {P("data.img")}");
        var root0 = ChangeLv(g0, "root", """
            mkdir -p etc home/alice/docs; echo host > etc/hostname; echo a > home/alice/a.txt
            head -c 300000 /dev/urandom > home/alice/docs/big.bin; chmod 600 home/alice/docs/big.bin
            truncate -s 3M home/alice/tail; printf start | dd of=home/alice/tail conv=notrunc status=none
            ln -s ../etc/hostname home/alice/link; ln -s /does/not/exist/with/a/rather/long/target/name/beyond/sixty/chars home/alice/slow
            mkfifo home/alice/fifo; chown -R 1000:1000 home/alice; touch -d '2001-02-03 04:05:06.789' home/alice/a.txt
            """);
        var data0 = ChangeLv(g0, "data", "for i in $(seq 1 40); do head -c $((i * 3000)) /dev/urandom > f$i; done; mkdir sub; echo s > sub/s");
        ProcessRunner.Bash($"cp --sparse=always {g0} {g1} && cp {g0}.layout {g1}.layout");
        var root1 = ChangeLv(g1, "root", "echo changed >> etc/hostname; rm home/alice/a.txt; echo new > home/alice/new.txt; truncate -s 5M home/alice/docs/big.bin");
        ProcessRunner.Bash($"qemu-img convert -O vmdk {g0} {P("base.vmdk")}");
        WriteChild(P("base.vmdk"), g0, g1, P("c1.vmdk"));
        string vmdk = P("c1.vmdk");

        // volumes: the LVs as pK/VG-LV, the snapshot listed and refused, the PV partitions as containers.
        var volumes = JsonDocument.Parse(Ok(MountChainCli.Run("volumes", vmdk, "--json")).StdoutBytes).RootElement.GetProperty("volumes").EnumerateArray()
            .ToDictionary(v => v.GetProperty("name").GetString()!, v => v.GetProperty("filesystem").GetString());
        Assert.Equal("ext4", volumes["p2/vg0-root"]);
        Assert.Equal("ext4", volumes["p2/vg0-data"]);
        Assert.Equal("LVM2_member", volumes["p3"]);
        Assert.Equal("lvm-unsupported", volumes["p3/vg0-snap"]);
        var snap = MountChainCli.Run("ls", vmdk, "p3/vg0-snap:/");
        Assert.NotEqual(0, snap.ExitCode);
        Assert.Contains("snapshot", snap.Stderr);

        // files-hash of every generation, by both spellings of the volume.
        Assert.Equal(root0.Manifest, Ok(MountChainCli.Run("files-hash", vmdk, "-g", "0", "--partition", "2/vg0-root")).Stdout);
        Assert.Equal(root1.Manifest, Ok(MountChainCli.Run("files-hash", vmdk, "-g", "1", "--partition", "p2/vg0-root")).Stdout);
        Assert.Equal(data0.Manifest, Ok(MountChainCli.Run("files-hash", vmdk, "-g", "1", "-p", "2/vg0-data")).Stdout);

        // extract: content, modes, owners, times, symlinks equal the kernel's view.
        string outDir = P("out");
        Ok(MountChainCli.Run("extract", vmdk, "-g", "1", "p2/vg0-root:/", outDir));
        Assert.Equal(root1.Listing, ProcessRunner.Bash(ListingScript(outDir)));
        Assert.Equal(root1.Manifest, ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum", outDir));
        Assert.Equal("start", Ok(MountChainCli.Run("cat-file", vmdk, "p2/vg0-root:/home/alice/tail")).Stdout.TrimEnd('\0'));

        // diff --files: exactly the kernel's changes, per volume; unreadable volumes named, not skipped silently.
        var diff = Ok(MountChainCli.Run("diff", vmdk, "--from", "0", "--to", "1", "--files"));
        Assert.Equal(new[] { "D p2/vg0-root:/home/alice/a.txt", "M p2/vg0-root:/etc/hostname", "M p2/vg0-root:/home/alice/docs/big.bin", "A p2/vg0-root:/home/alice/new.txt" }.Order(),
            diff.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        Assert.Contains("p3/vg0-swap: not compared", diff.Stderr);
        Assert.Contains("p3/vg0-snap: not compared", diff.Stderr);
        Assert.Contains("p1: not compared", diff.Stderr);
        var json = JsonDocument.Parse(Ok(MountChainCli.Run("diff", vmdk, "--from", "0", "--to", "1", "--files", "--json")).StdoutBytes).RootElement;
        Assert.Contains(json.GetProperty("volumes").EnumerateArray(), p => p.GetProperty("partition").GetString() == "p3/vg0-swap" && p.TryGetProperty("skipped", out _));

        // mount --files: the LV's tree under pK/VG-LV.
        string mnt = P("fuse");
        Directory.CreateDirectory(mnt);
        Ok(MountChainCli.Run("mount", vmdk, mnt, "--files"));
        try
        {
            Assert.Equal(["vg0-data", "vg0-root"], Directory.GetFileSystemEntries(Path.Combine(mnt, "p2")).Select(Path.GetFileName).Order());
            Assert.Equal(root1.Manifest, ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum", Path.Combine(mnt, "p2", "vg0-root")));
            Assert.Equal("../etc/hostname", new FileInfo(Path.Combine(mnt, "p2/vg0-root/home/alice/link")).LinkTarget);
        }
        finally { MountChainCli.Run("unmount", mnt); }
    }
}
