using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// A GPT disk with an EFI System Partition (mkfs.fat -F 32), a FAT16 and a FAT12 data partition,
/// filled and changed with mtools between the generations of a qemu-made VMDK chain. Every
/// generation's files-hash, names, times and attributes must be what mtools shows.
/// </summary>
public sealed class FatChainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-fat-chain-").FullName;
    private string P(string name) => Path.Combine(_dir, name);
    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly (string Type, int SizeMiB, string Mkfs)[] Layout =
    [
        ("U", 34, "-F 32 -s 1 -n EFI"),   // the ESP: FAT32 with 512-byte clusters
        ("L", 24, "-F 16 -n DATA16"),
        ("L", 4, "-F 12 -n SMALL12"),
    ];

    private const string Generation0P1 = """
        mmd -i "$I" ::/EFI ::/EFI/BOOT ::/EFI/debian ::/frag
        head -c 200000 /dev/urandom > BOOTX64.EFI; touch -d '2021-03-04 05:06:08' BOOTX64.EFI; mcopy -m -i "$I" BOOTX64.EFI ::/EFI/BOOT/
        printf 'set timeout=5\n' > grub.cfg; touch -d '2022-11-30 23:59:58' grub.cfg; mcopy -m -i "$I" grub.cfg ::/EFI/debian/
        echo long > 'A long file name with spaces.txt'; echo uni > 'Ünïcödé – ñame ✓.txt'; echo cjk > '日本語のファイル名.txt'
        touch -d '2020-01-02 03:04:06' 'A long file name with spaces.txt' 'Ünïcödé – ñame ✓.txt' '日本語のファイル名.txt'
        mcopy -m -i "$I" 'A long file name with spaces.txt' 'Ünïcödé – ñame ✓.txt' '日本語のファイル名.txt' ::/
        echo lower > readme.txt; mcopy -m -i "$I" readme.txt ::/readme.txt; mattrib -i "$I" +r ::/readme.txt
        echo hidden > hidden.sys; mcopy -m -i "$I" hidden.sys ::/; mattrib -i "$I" +h +s ::/hidden.sys
        d=::/deep; mmd -i "$I" $d; for i in $(seq 1 14); do d=$d/level-$i; mmd -i "$I" $d; done; echo bottom > b.txt; mcopy -m -i "$I" b.txt $d/
        # Interleaved small writes and deletes.
        for i in $(seq 1 16); do head -c 1500 /dev/urandom > s$i; mcopy -i "$I" s$i ::/frag/; done
        for i in $(seq 1 2 16); do mdel -i "$I" ::/frag/s$i; done
        head -c 60000 /dev/urandom > scattered.bin; mcopy -m -i "$I" scattered.bin ::/frag/
        """;

    private const string Generation0P2 = """
        mmd -i "$I" ::/docs ::/photos
        for i in $(seq 1 60); do head -c $((i * 37)) /dev/urandom > note$i.txt; done; mcopy -m -i "$I" note*.txt ::/docs/
        head -c 2000000 /dev/urandom > 'Holiday Photo 2019.jpg'; mcopy -m -i "$I" 'Holiday Photo 2019.jpg' ::/photos/
        echo x > MixedCase.Txt; mcopy -m -i "$I" MixedCase.Txt ::/
        """;

    private const string Generation0P3 = """
        mmd -i "$I" ::/cfg
        echo tiny > tiny.txt; head -c 100000 /dev/urandom > blob.bin; mcopy -m -i "$I" tiny.txt blob.bin ::/
        echo 'k=v' > settings.ini; mcopy -m -i "$I" settings.ini ::/cfg/
        # Fragmentation: one-cluster files, the volume filled, every other one deleted, then a file that must use the holes.
        for i in $(seq 1 8); do head -c 1500 /dev/urandom > s$i; mcopy -i "$I" s$i ::/s$i; done
        free=$(mdir -i "$I" ::/ | grep 'bytes free' | tr -dc 0-9)
        head -c $((free - 30000)) /dev/urandom > fill.bin; mcopy -i "$I" fill.bin ::/
        mdel -i "$I" ::/s1 ::/s3 ::/s5 ::/s7
        head -c 20000 /dev/urandom > scattered.bin; mcopy -m -i "$I" scattered.bin ::/
        mshowfat -i "$I" ::/scattered.bin > fragments.txt
        """;

    private const string Generation1P1 = """
        head -c 150001 /dev/urandom > BOOTX64.EFI; touch -d '2023-07-08 09:10:12' BOOTX64.EFI; mcopy -o -m -i "$I" BOOTX64.EFI ::/EFI/BOOT/
        mdel -i "$I" '::/A long file name with spaces.txt'
        mmd -i "$I" ::/EFI/Microsoft; echo bootmgr > bootmgfw.efi; mcopy -m -i "$I" bootmgfw.efi ::/EFI/Microsoft/
        for i in $(seq 2 2 16); do mdel -i "$I" ::/frag/s$i; done
        head -c 30000 /dev/urandom > filler.bin; mcopy -m -i "$I" filler.bin ::/frag/
        """;

    private const string Generation1P2 = """
        for i in $(seq 1 3 60); do mdel -i "$I" ::/docs/note$i.txt; done
        mren -i "$I" ::/MixedCase.Txt ::/Renamed.Txt
        head -c 5000 /dev/urandom > new.dat; mcopy -m -i "$I" new.dat ::/docs/
        """;

    private const string Generation2P3 = """
        mdel -i "$I" ::/fill.bin
        head -c 100000 /dev/urandom > blob.bin; mcopy -o -m -i "$I" blob.bin ::/
        echo more > more.txt; mcopy -m -i "$I" more.txt ::/cfg/
        """;

    private (long Offset, long Size)[] MakeDisk(string raw)
    {
        string table = "label: gpt\n" + string.Concat(Layout.Select(l => $"size={l.SizeMiB}MiB,type={l.Type}\\n"));
        ProcessRunner.Bash($"truncate -s 72M {raw} && printf '{table}' | sfdisk -q {raw}");
        var parts = JsonDocument.Parse(ProcessRunner.Bash($"sfdisk --json {raw}")).RootElement.GetProperty("partitiontable").GetProperty("partitions")
            .EnumerateArray().Select(p => (p.GetProperty("start").GetInt64() * 512, p.GetProperty("size").GetInt64() * 512)).ToArray();
        for (int k = 0; k < Layout.Length; k++)
            ProcessRunner.Bash($"mkfs.fat {Layout[k].Mkfs} --offset {parts[k].Item1 / 512} {raw} {parts[k].Item2 / 1024} >/dev/null 2>&1");
        return parts;
    }

    /// <summary>What mtools shows of every partition of one raw generation: a copied-out tree per partition.</summary>
    private string[] CopyOut(string raw, (long Offset, long Size)[] parts, int g)
    {
        var trees = new string[parts.Length];
        for (int k = 0; k < parts.Length; k++)
        {
            trees[k] = P($"mtools-g{g}-p{k + 1}");
            new Mtools(raw, parts[k].Offset).CopyOut(trees[k], _dir);
        }
        return trees;
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd", "mattrib", "mshowfat", "sfdisk", "qemu-img", "qemu-io", NeedsRootAndFuse = true)]
    public void Each_generation_of_an_esp_fat16_and_fat12_disk_reads_as_mtools_shows_it()
    {
        string work = Directory.CreateDirectory(P("work")).FullName;
        var raws = new[] { P("g0.raw"), P("g1.raw"), P("g2.raw") };
        var parts = MakeDisk(raws[0]);
        new Mtools(raws[0], parts[0].Offset).Run(Generation0P1, work);
        new Mtools(raws[0], parts[1].Offset).Run(Generation0P2, work);
        new Mtools(raws[0], parts[2].Offset).Run(Generation0P3, work);
        Assert.True(File.ReadAllText(Path.Combine(work, "fragments.txt")).Count(c => c == '<') >= 3, "scattered.bin is not fragmented");
        ProcessRunner.Bash($"cp --sparse=always {raws[0]} {raws[1]}");
        new Mtools(raws[1], parts[0].Offset).Run(Generation1P1, work);
        new Mtools(raws[1], parts[1].Offset).Run(Generation1P2, work);
        ProcessRunner.Bash($"cp --sparse=always {raws[1]} {raws[2]}");
        new Mtools(raws[2], parts[2].Offset).Run(Generation2P3, work);
        var trees = Enumerable.Range(0, 3).Select(g => CopyOut(raws[g], parts, g)).ToArray();
        string chain = RawChain.Build(_dir, raws);
        string[] chainFiles = Directory.GetFiles(_dir, "*.vmdk");
        var before = chainFiles.ToDictionary(f => f, Hashing.Sha256File);

        var volumes = JsonDocument.Parse(MountChainCli.Run("volumes", chain, "-g", "0", "--json").StdoutBytes).RootElement.GetProperty("volumes").EnumerateArray()
            .Select(v => (v.GetProperty("filesystem").GetString(), v.GetProperty("label").GetString())).ToList();
        Assert.Equal([("vfat", "EFI"), ("vfat", "DATA16"), ("vfat", "SMALL12")], volumes);

        for (int g = 0; g < 3; g++)
            for (int k = 1; k <= 3; k++)
            {
                var r = MountChainCli.Run("files-hash", chain, "-g", g.ToString(), "--partition", k.ToString());
                Assert.True(r.ExitCode == 0, r.Stderr);
                Assert.Equal(Mtools.Manifest(trees[g][k - 1]), r.Stdout);
            }
        Assert.NotEqual(Mtools.Manifest(trees[0][0]), Mtools.Manifest(trees[1][0]));
        Assert.NotEqual(Mtools.Manifest(trees[1][2]), Mtools.Manifest(trees[2][2]));

        // extract: content and modification times as mcopy -m produced them.
        for (int k = 1; k <= 3; k++)
        {
            string target = P($"extract-p{k}");
            var x = MountChainCli.Run("extract", chain, "-g", "2", $"p{k}:/", target);
            Assert.True(x.ExitCode == 0, x.Stderr);
            Assert.Equal(Mtools.Manifest(trees[2][k - 1]), Mtools.Manifest(target));
            Assert.Equal(Mtools.Times(trees[2][k - 1]), Mtools.Times(target));
        }

        // diff --files: exactly the files whose mtools manifests differ.
        var diff = MountChainCli.Run("diff", chain, "--from", "0", "--to", "1", "--files");
        Assert.True(diff.ExitCode == 0, diff.Stderr);
        var expected = Enumerable.Range(1, 3).SelectMany(k => ManifestChanges(Mtools.Manifest(trees[0][k - 1]), Mtools.Manifest(trees[1][k - 1]), $"p{k}")).Order(StringComparer.Ordinal);
        Assert.Equal(expected, diff.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Contains("D p1:/A long file name with spaces.txt", diff.Stdout);

        for (int k = 1; k <= 3; k++) AssertNamesAndAttributesAsMtools(chain, raws[2], parts[k - 1].Offset, k);
        AssertCaseInsensitiveLookups(chain, raws[0], parts[0].Offset, trees);
        AssertFuseTreeAsMtools(chain, trees);
        Assert.Equal(before, chainFiles.ToDictionary(f => f, Hashing.Sha256File));
    }

    /// <summary>Every path (long names, NT lowercase flags, non-ASCII) and the A/S/H/R bits of every file as mdir and mattrib list them.</summary>
    private void AssertNamesAndAttributesAsMtools(string chain, string raw, long offset, int k)
    {
        var mtools = new Mtools(raw, offset);
        var theirs = mtools.Run("mdir -/ -b -a -i \"$I\" ::/", _dir).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[2..].TrimEnd('/'));
        var listing = JsonDocument.Parse(MountChainCli.Run("ls", chain, "-g", "2", $"p{k}:/", "-r", "--json").StdoutBytes).RootElement.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(theirs.Order(StringComparer.Ordinal), listing.Select(e => e.GetProperty("path").GetString()!).Order(StringComparer.Ordinal));

        var attributes = mtools.Run("mattrib -/ -i \"$I\" ::/", _dir).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => (Path: l[(l.IndexOf("::/") + 2)..], Flags: new string(l[..l.IndexOf("::/")].Where(char.IsLetter).Order().ToArray())))
            .Where(a => a.Path != "/").ToDictionary(a => a.Path, a => a.Flags);
        foreach (var e in listing.Where(e => e.GetProperty("type").GetString() == "file"))
        {
            uint bits = e.GetProperty("attributes").GetUInt32();
            string flags = new(new[] { (0x20u, 'A'), (0x02u, 'H'), (0x01u, 'R'), (0x04u, 'S') }.Where(f => (bits & f.Item1) != 0).Select(f => f.Item2).Order().ToArray());
            Assert.Equal(attributes[e.GetProperty("path").GetString()!], flags);
            uint mode = e.GetProperty("mode").GetUInt32() & 0x1FF;
            Assert.Equal((bits & 1) != 0 ? 0x124u : 0x1A4u, mode); // read-only → r--r--r--
        }
    }

    /// <summary>Paths match case-insensitively, by long name or by the 8.3 alias mtools gave the file; listings keep the stored case.</summary>
    private void AssertCaseInsensitiveLookups(string chain, string raw0, long offset, string[][] trees)
    {
        var boot = MountChainCli.Run("cat-file", chain, "-g", "0", "p1:/efi/boot/bootx64.efi");
        Assert.True(boot.ExitCode == 0, boot.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(trees[0][0], "EFI/BOOT/BOOTX64.EFI")), boot.StdoutBytes);
        var ls = MountChainCli.Run("ls", chain, "-g", "0", "p1:/efi/BOOT/BootX64.efi", "--json");
        Assert.Equal("/EFI/BOOT/BOOTX64.EFI", JsonDocument.Parse(ls.StdoutBytes).RootElement.GetProperty("entries")[0].GetProperty("path").GetString());

        string line = new Mtools(raw0, offset).Run("mdir -i \"$I\" ::/", _dir).Split('\n').Single(l => l.EndsWith(" A long file name with spaces.txt"));
        string alias = line[..8].TrimEnd() + "." + line[9..12].TrimEnd();
        var byAlias = MountChainCli.Run("cat-file", chain, "-g", "0", $"p1:/{alias.ToLowerInvariant()}");
        Assert.True(byAlias.ExitCode == 0, $"{alias}: {byAlias.Stderr}");
        Assert.Equal("long\n", byAlias.Stdout);
    }

    /// <summary>mount --files shows every partition's tree as mtools copied it out, and opens paths case-insensitively.</summary>
    private void AssertFuseTreeAsMtools(string chain, string[][] trees)
    {
        string mp = Directory.CreateDirectory(P("mnt")).FullName;
        var mounted = MountChainCli.Run("mount", chain, "-g", "2", mp, "--files");
        Assert.True(mounted.ExitCode == 0, mounted.Stderr);
        try
        {
            for (int k = 1; k <= 3; k++)
                Assert.Equal(Mtools.Manifest(trees[2][k - 1]), Mtools.Manifest(Path.Combine(mp, $"p{k}")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(trees[2][0], "EFI/BOOT/BOOTX64.EFI")), File.ReadAllBytes(Path.Combine(mp, "p1/efi/boot/bootx64.efi")));
            Assert.Equal(Mtools.Times(trees[2][1]), Mtools.Times(Path.Combine(mp, "p2")));
        }
        finally
        {
            var u = MountChainCli.Run("unmount", mp);
            Assert.True(u.ExitCode == 0, u.Stderr);
        }
    }

    /// <summary>"A/D/M pK:/path" lines between two sha256sum manifests.</summary>
    internal static IEnumerable<string> ManifestChanges(string before, string after, string partition)
    {
        static Dictionary<string, string> Parse(string m) => m.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToDictionary(l => l[66..], l => l[..64]);
        var a = Parse(before);
        var b = Parse(after);
        foreach (var (path, hash) in b)
            if (!a.TryGetValue(path, out var old)) yield return $"A {partition}:{path[1..]}";
            else if (old != hash) yield return $"M {partition}:{path[1..]}";
        foreach (var path in a.Keys)
            if (!b.ContainsKey(path)) yield return $"D {partition}:{path[1..]}";
    }
}
