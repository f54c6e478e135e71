using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>
/// An NTFS partition on a GPT disk, changed through ntfs-3g between generations of a qemu-made
/// VMDK chain (each child holds only the grains that differ, written with qemu-io). Every
/// generation's files must hash as the mount showed them, and diff --files must name exactly
/// what changed.
/// </summary>
public sealed class NtfsChainTests : IDisposable
{
    private const int Grain = 65536;
    private readonly TempDirectory _temp = new("mc-ntfs-chain");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private string P(string name) => Path.Combine(_dir, name);

    /// <summary>Copies partition 1 out of <paramref name="disk"/>, runs <paramref name="script"/> on it mounted, returns the mount's manifest, and copies it back.</summary>
    private string ChangePartition(string disk, long offset, long size, string script)
    {
        string part = P("part.img"), mnt = P("mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"dd if={disk} of={part} bs=1M skip={offset} count={size} iflag=skip_bytes,count_bytes status=none");
        ProcessRunner.Bash($"ntfs-3g {part} {mnt}");
        string manifest;
        try
        {
            ProcessRunner.Bash("set +o pipefail\n" + script, mnt);
            manifest = ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum", mnt);
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        ProcessRunner.Bash($"dd if={part} of={disk} bs=1M seek={offset} oflag=seek_bytes conv=notrunc status=none && rm {part}");
        return manifest;
    }

    /// <summary>Creates <paramref name="child"/> on <paramref name="parent"/> holding only the grains where the two raw images differ.</summary>
    private void WriteChild(string parentVmdk, string parentRaw, string childRaw, string child)
    {
        ProcessRunner.Bash($"qemu-img create -q -f vmdk -b {Path.GetFileName(parentVmdk)} -F vmdk {child}", _dir);
        using var a = File.OpenHandle(parentRaw);
        using var b = File.OpenHandle(childRaw);
        long length = RandomAccess.GetLength(b);
        var x = new byte[Grain];
        var y = new byte[Grain];
        var commands = new List<string>();
        for (long off = 0; off < length; off += Grain)
        {
            RandomAccess.Read(a, x, off);
            RandomAccess.Read(b, y, off);
            if (x.AsSpan().SequenceEqual(y)) continue;
            string chunk = P($"chunk{commands.Count}.bin");
            File.WriteAllBytes(chunk, y);
            commands.Add($"-c \"write -s {chunk} {off} {Grain}\"");
        }
        Assert.NotEmpty(commands);
        foreach (var batch in commands.Chunk(200))
            ProcessRunner.Bash($"qemu-io -f vmdk {string.Join(' ', batch)} {child} >/dev/null");
        ProcessRunner.Bash($"rm -f {P("chunk")}*.bin");
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", "sfdisk", "qemu-img", "qemu-io", NeedsRootAndFuse = true)]
    public void Each_generation_hashes_as_mounted_and_diff_files_names_the_changes()
    {
        ProcessRunner.Bash($"truncate -s 48M {P("g0.raw")} && printf 'label: gpt\\nsize=40MiB\\n' | sfdisk -q {P("g0.raw")}");
        var p1 = JsonDocument.Parse(ProcessRunner.Bash($"sfdisk --json {P("g0.raw")}")).RootElement.GetProperty("partitiontable").GetProperty("partitions")[0];
        long offset = p1.GetProperty("start").GetInt64() * 512, size = p1.GetProperty("size").GetInt64() * 512;
        ProcessRunner.Bash($"truncate -s {size} {P("part.img")} && mkntfs -F -Q -L ChainVol {P("part.img")} >/dev/null 2>&1 && dd if={P("part.img")} of={P("g0.raw")} bs=1M seek={offset} oflag=seek_bytes conv=notrunc status=none && rm {P("part.img")}");
        var manifests = new List<string>
        {
            ChangePartition(P("g0.raw"), offset, size, "echo a > a.txt; echo b > b.txt; echo c > c.txt; mkdir dir; echo d > dir/d.txt; head -c 1000000 /dev/urandom > big.bin"),
        };
        ProcessRunner.Bash($"cp --sparse=always {P("g0.raw")} {P("g1.raw")}");
        manifests.Add(ChangePartition(P("g1.raw"), offset, size, "echo changed > b.txt; rm c.txt; echo e > e.txt"));
        ProcessRunner.Bash($"cp --sparse=always {P("g1.raw")} {P("g2.raw")}");
        manifests.Add(ChangePartition(P("g2.raw"), offset, size, "echo d2 >> dir/d.txt; head -c 300000 /dev/urandom >> big.bin"));

        ProcessRunner.Bash($"qemu-img convert -O vmdk {P("g0.raw")} {P("base.vmdk")}");
        WriteChild(P("base.vmdk"), P("g0.raw"), P("g1.raw"), P("child1.vmdk"));
        WriteChild(P("child1.vmdk"), P("g1.raw"), P("g2.raw"), P("child2.vmdk"));

        for (int g = 0; g <= 2; g++)
        {
            var r = MountChainCli.Run("files-hash", P("child2.vmdk"), "-g", g.ToString(), "--partition", "1");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(manifests[g], r.Stdout);
        }

        var diff = MountChainCli.Run("diff", P("child2.vmdk"), "--from", "0", "--to", "1", "--files");
        Assert.True(diff.ExitCode == 0, diff.Stderr);
        Assert.Equal("D p1:/c.txt\nM p1:/b.txt\nA p1:/e.txt\n".Split('\n').Order(), diff.Stdout.Split('\n').Order());
        var json = MountChainCli.Run("diff", P("child2.vmdk"), "--from", "1", "--to", "2", "--files", "--json");
        var changes = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("volumes").EnumerateArray().Single().GetProperty("changes").EnumerateArray()
            .Select(c => (c.GetProperty("change").GetString(), c.GetProperty("path").GetString())).ToList();
        Assert.Equal([("modified", "./big.bin"), ("modified", "./dir/d.txt")], changes);
    }
}
