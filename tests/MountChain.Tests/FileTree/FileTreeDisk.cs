using System.Text.Json;
using MountChain.Tests.FileSystems;

namespace MountChain.Tests.FileTree;

/// <summary>What the kernel (XFS) or ntfs-3g (NTFS) showed for one partition of one generation, taken on that mount.</summary>
/// <param name="Manifest"><c>find . -type f | sort | xargs sha256sum</c> output.</param>
/// <param name="Stat">find -printf '%P\t%y\t%s\t%T@\t%m\t%n\t%U\t%G\t%i\t%l' lines, sorted.</param>
public sealed record PartitionView(string Manifest, string Stat);

/// <summary>
/// A GPT disk with p1 = NTFS (mkntfs, filled through ntfs-3g), p2 = XFS (mkfs.xfs, filled through a
/// kernel loop mount) and p3 = an unformatted partition, as a two-generation qemu-made VMDK chain:
/// base.vmdk (qemu-img convert of generation 0) and child.vmdk (qemu-img create -b base.vmdk,
/// then qemu-io writes of exactly the grains generation 1 changed). For each generation and
/// partition it keeps what the real mount showed. Built lazily, once per test class.
/// </summary>
public sealed class FileTreeDisk : IDisposable
{
    public const string NtfsStreamValue = "streamvalue";
    private const int Grain = 65536;
    private const long PartitionMiB1 = 64, PartitionMiB2 = 300, PartitionMiB3 = 4;

    // Generation 0 of each partition; run inside the mount. Each line covers a shape the tree must show.
    private const string NtfsGeneration0 = """
        echo hello > f.txt; ln f.txt hard; setfattr -n user.stream1 -v streamvalue f.txt
        mkdir -p sub/deeper; echo inside > sub/inner.txt; echo deeper > sub/deeper/d.txt
        ln -s f.txt link; ln -s sub linkdir; ln -s /etc/hostname abs; ln -s nowhere dangling
        mkdir many; for i in $(seq 1 400); do echo "n $i" > many/entry_$i.txt; done
        head -c 3000000 /dev/urandom > random.bin; : > empty.txt
        truncate -s 20M sparse.bin; printf island | dd of=sparse.bin bs=1 seek=9000000 conv=notrunc status=none
        echo café > café.txt
        """;
    private const string XfsGeneration0 = """
        echo hello > f.txt; ln f.txt hard; chmod 0640 f.txt; chown 1234:5678 f.txt
        mkdir -p sub/deeper; echo inside > sub/inner.txt; echo deeper > sub/deeper/d.txt; chmod 0700 sub/deeper
        ln -s f.txt link; ln -s sub linkdir; ln -s nowhere dangling; ln -s "$(printf 'component-%02d/' $(seq 1 30))x" longlink
        mkdir many; for i in $(seq 1 400); do echo "n $i" > many/entry_$i.txt; done
        head -c 3000000 /dev/urandom > random.bin; : > empty.txt; chmod 4755 random.bin
        truncate -s 20M sparse.bin; printf island | dd of=sparse.bin bs=1 seek=9000000 conv=notrunc status=none
        mkfifo fifo; echo 日本 > 日本語.txt
        """;
    // Generation 1: content, names and metadata change on both partitions.
    private const string NtfsGeneration1 = """
        echo changed >> f.txt; rm many/entry_1*.txt; echo new > new.txt; head -c 70000 /dev/urandom >> random.bin
        rm -r sub/deeper; mkdir added; ln -s ../new.txt added/tonew
        """;
    private const string XfsGeneration1 = """
        echo changed >> f.txt; rm many/entry_2*.txt; echo new > new.txt; chmod 0600 new.txt; head -c 70000 /dev/urandom >> random.bin
        rm -r sub/deeper; mkdir added; ln -s ../new.txt added/tonew; touch -d 2001-02-03T04:05:06.123456789Z empty.txt
        """;

    private readonly Lazy<string> _built;
    private readonly TempDirectory _temp = new("mc-filetree");
    private string _dir => _temp.Path;
    private readonly Dictionary<(int Generation, int Partition), PartitionView> _views = [];

    public FileTreeDisk() => _built = new Lazy<string>(Build);

    public string Dir => _built.Value;
    public string Base => Path.Combine(Dir, "base.vmdk");
    public string Child => Path.Combine(Dir, "child.vmdk");
    /// <summary>Generation 0's XFS partition on its own: a disk without a partition table (p0).</summary>
    public string BareXfs => Path.Combine(Dir, "p2-g0.img");

    public PartitionView View(int generation, int partition)
    {
        _ = _built.Value;
        return _views[(generation, partition)];
    }

    private string P(string name) => Path.Combine(_dir, name);

    private string Build()
    {
        Directory.CreateDirectory(P("m1"));
        Directory.CreateDirectory(P("m2"));
        ProcessRunner.Bash($"truncate -s {PartitionMiB1}M p1.img && mkntfs -F -Q -L TreeNtfs p1.img >/dev/null 2>&1", _dir);
        ProcessRunner.Bash($"truncate -s {PartitionMiB2}M p2.img && mkfs.xfs -q -f -L treexfs p2.img", _dir);
        Populate(0, NtfsGeneration0, XfsGeneration0);
        ProcessRunner.Bash("cp --sparse=always p2.img p2-g0.img", _dir);
        Assemble("g0.raw");
        Populate(1, NtfsGeneration1, XfsGeneration1);
        Assemble("g1.raw");
        ProcessRunner.Bash("rm p1.img p2.img && qemu-img convert -O vmdk g0.raw base.vmdk", _dir);
        WriteChild(P("g0.raw"), P("g1.raw"));
        ProcessRunner.Bash("rm g0.raw g1.raw", _dir);
        return _dir;
    }

    /// <summary>Runs the scripts on ntfs-3g / kernel mounts of the partition images and records what those mounts show.</summary>
    private void Populate(int generation, string ntfsScript, string xfsScript)
    {
        ProcessRunner.Bash("ntfs-3g p1.img m1 && mount -o loop p2.img m2", _dir);
        try
        {
            ProcessRunner.Bash("set +o pipefail\n" + ntfsScript, P("m1"));
            ProcessRunner.Bash("set +o pipefail\n" + xfsScript, P("m2"));
            ProcessRunner.Bash("sync", _dir);
            for (int k = 1; k <= 2; k++)
                _views[(generation, k)] = ViewOf(P($"m{k}"));
        }
        finally { ProcessRunner.Bash("umount m1; umount m2", _dir); }
    }

    /// <summary>The manifest and stat listing of a mounted tree, exactly as the tests take them on the FUSE mount.</summary>
    public static PartitionView ViewOf(string directory) => new(
        ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum", directory),
        ProcessRunner.Bash("find . -mindepth 1 -printf '%P\\t%y\\t%s\\t%T@\\t%m\\t%n\\t%U\\t%G\\t%i\\t%l\\n' | LC_ALL=C sort", directory));

    /// <summary>A 400 MiB GPT disk: p1 NTFS, p2 XFS, p3 left unformatted (no file system to show).</summary>
    private void Assemble(string raw)
    {
        ProcessRunner.Bash($"truncate -s 400M {raw} && printf 'label: gpt\\nsize={PartitionMiB1}MiB\\nsize={PartitionMiB2}MiB\\nsize={PartitionMiB3}MiB\\n' | sfdisk -q {raw}", _dir);
        var partitions = JsonDocument.Parse(ProcessRunner.Bash($"sfdisk --json {raw}", _dir)).RootElement.GetProperty("partitiontable").GetProperty("partitions");
        for (int k = 1; k <= 2; k++)
        {
            long offset = partitions[k - 1].GetProperty("start").GetInt64() * 512;
            ProcessRunner.Bash($"dd if=p{k}.img of={raw} bs=1M seek={offset} oflag=seek_bytes conv=sparse,notrunc status=none", _dir);
        }
    }

    /// <summary>child.vmdk on base.vmdk, holding exactly the grains where generation 1 differs from generation 0 (qemu-io writes).</summary>
    private void WriteChild(string parentRaw, string childRaw)
    {
        ProcessRunner.Bash("qemu-img create -q -f vmdk -b base.vmdk -F vmdk child.vmdk", _dir);
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
        if (commands.Count == 0) throw new InvalidOperationException("generation 1 changed nothing");
        foreach (var batch in commands.Chunk(200))
            ProcessRunner.Bash($"qemu-io -f vmdk {string.Join(' ', batch)} child.vmdk >/dev/null", _dir);
        ProcessRunner.Bash("rm -f chunk*.bin", _dir);
    }

    public void Dispose()
    {
        try { ProcessRunner.Bash($"umount {P("m1")} 2>/dev/null; umount {P("m2")} 2>/dev/null; true"); } catch (InvalidOperationException) { }
        _temp.Dispose();
    }
}
