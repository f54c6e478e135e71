using System.Globalization;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>What the kernel reported for one path on the mounted file system (GNU find -printf).</summary>
public sealed record KernelEntry(string Path, char Type, long Size, long MtimeSeconds, long MtimeSubTicks, ulong Inode,
    uint Links, uint Mode, uint Uid, uint Gid, string LinkTarget);

/// <summary>
/// A v5 XFS image (mkfs.xfs defaults) populated through the real kernel (mount -o loop) with every
/// shape the reader must handle, plus the kernel's own view (find listing, sha256sum) taken before
/// unmounting. Built once per test class, lazily (only when a root test actually runs).
/// </summary>
public sealed class XfsKernelImage : IDisposable
{
    /// <summary>Populates the mounted file system; $1 is the mount point. Sizes keep the image small and the build fast.</summary>
    private const string PopulateScript = """
        set -euo pipefail
        cd "$1"
        rnd() { head -c "$1" /dev/urandom; }

        # many small files of varied sizes (0 .. ~9000 bytes, inline-block boundaries included)
        mkdir small
        for i in $(seq 0 199); do rnd $(( (i * 389) % 9001 )) > small/f$i; done
        rnd 4096 > small/exactly-one-block
        : > empty

        # interleaved appends with fsync: fragmented files (allocsize=4k stops speculative preallocation)
        mkdir big
        for r in $(seq 1 40); do for f in a b c; do rnd 65536 >> big/$f; sync big/$f; done; done

        # sparse: holes, punched holes, unwritten (fallocated) ranges, and data beyond 4 GiB
        mkdir sparse
        dd if=/dev/urandom of=sparse/holes bs=64k count=8 status=none
        dd if=/dev/urandom of=sparse/holes bs=64k count=8 seek=100 conv=notrunc status=none
        truncate -s 20M sparse/holes
        fallocate -p -o 131072 -l 65536 sparse/holes
        fallocate -l 4M sparse/prealloc
        dd if=/dev/urandom of=sparse/prealloc bs=4k count=3 seek=200 conv=notrunc status=none
        truncate -s 4300M sparse/huge
        dd if=/dev/urandom of=sparse/huge bs=64k count=4 conv=notrunc status=none
        dd if=/dev/urandom of=sparse/huge bs=64k count=4 seek=$(( 4200 * 16 )) conv=notrunc status=none

        # one file with thousands of extents: a multi-level bmbt
        mkdir btree
        dd if=/dev/urandom of=btree/many bs=1M count=48 status=none
        args=()
        for i in $(seq 0 5999); do args+=(-c "fpunch $(( i * 8192 + 4096 )) 4096"); done
        xfs_io "${args[@]}" btree/many

        # big directories grown in turn: node/leaf forms, and a fragmented (btree) data fork
        mkdir dirs dirs/many dirs/other
        for i in $(seq 1 4000); do
          : > "dirs/many/entry-with-a-fairly-long-name-to-fill-blocks-$i"
          : > "dirs/other/another-long-entry-name-for-interleaving-$i"
        done
        for i in $(seq 1 3 4000); do rm "dirs/many/entry-with-a-fairly-long-name-to-fill-blocks-$i"; done
        mkdir dirs/block
        for i in $(seq 1 40); do : > "dirs/block/n$i"; done

        # shortform directories (inline in the inode)
        mkdir -p sf/sub sf/empty
        echo hello > sf/a
        echo world > sf/sub/b

        # Unicode names and a deep path
        mkdir 'ünïcødé dir ☃'
        echo snow > 'ünïcødé dir ☃/日本語ファイル.txt'
        echo emoji > 'ünïcødé dir ☃/🙂 smile'
        p=deep; for i in $(seq 1 40); do p="$p/level$i"; done
        mkdir -p "$p"; echo bottom > "$p/leaf.txt"

        # symlinks (inline and remote), a symlinked directory, hard links
        mkdir links
        ln -s ../small/f1 links/short
        ln -s "../$(printf 'long-component-%02d/' $(seq 1 20))target" links/long
        ln -s ../small links/dirlink
        ln small/f5 links/hard5
        ln small/f5 links/hard5-again
        sync
        """;

    private readonly Lazy<Built> _built;
    private TempDirectory? _temp;

    public XfsKernelImage() => _built = new Lazy<Built>(Build);

    public string ImagePath => _built.Value.Image;
    public IReadOnlyDictionary<string, KernelEntry> Entries => _built.Value.Entries;
    public IReadOnlyDictionary<string, string> Sha256 => _built.Value.Sha256;
    public string WorkDir => _built.Value.Dir;

    /// <summary>Kernel sha256 of /sparse/huge bytes [HugeTailOffset, +512 KiB): data written past 4 GiB, then a hole.</summary>
    public string HugeTailSha256 => _built.Value.HugeTailSha256;
    public const long HugeTailOffset = 4200L << 20;

    private sealed record Built(string Dir, string Image, Dictionary<string, KernelEntry> Entries, Dictionary<string, string> Sha256, string HugeTailSha256);

    private Built Build()
    {
        _temp = new TempDirectory("mountchain-xfs");
        string dir = _temp.Path;
        string image = Path.Combine(dir, "v5.img"), mnt = Path.Combine(dir, "mnt"), script = Path.Combine(dir, "populate.sh");
        Directory.CreateDirectory(mnt);
        File.WriteAllText(script, PopulateScript);
        ProcessRunner.Check("truncate", "-s", "300M", image);
        ProcessRunner.Check("mkfs.xfs", "-q", "-f", image);
        ProcessRunner.Check("mount", "-o", "loop,allocsize=4k", image, mnt);
        string listing, sums, hugeTail;
        try
        {
            ProcessRunner.Check("bash", script, mnt);
            listing = ProcessRunner.Check("find", [".", "-mindepth", "1", "-printf", "%P\\t%y\\t%s\\t%T@\\t%i\\t%n\\t%m\\t%U\\t%G\\t%l\\n"], mnt);
            // The 4.2 GiB sparse file is checked by its data range beyond 4 GiB; hashing its zeros twice costs too much.
            sums = ProcessRunner.Check("bash", ["-c", "find . -type f ! -path ./sparse/huge -print0 | xargs -0 sha256sum"], mnt);
            hugeTail = ProcessRunner.Check("bash", ["-c", $"dd if=sparse/huge bs=64k skip={HugeTailOffset / 65536} count=8 status=none | sha256sum"], mnt)[..64];
        }
        finally
        {
            ProcessRunner.Check("umount", mnt);
        }
        return new Built(dir, image, ParseListing(listing), ParseSums(sums), hugeTail);
    }

    public static Dictionary<string, KernelEntry> ParseListing(string listing)
    {
        var result = new Dictionary<string, KernelEntry>(StringComparer.Ordinal);
        foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            string[] t = f[3].Split('.');
            string frac = (t.Length > 1 ? t[1] : "").PadRight(7, '0')[..7];
            string path = "/" + f[0];
            result[path] = new KernelEntry(path, f[1][0], long.Parse(f[2]), long.Parse(t[0]), long.Parse(frac), ulong.Parse(f[4]),
                uint.Parse(f[5]), Convert.ToUInt32(f[6], 8), uint.Parse(f[7]), uint.Parse(f[8]), f[9]);
        }
        return result;
    }

    public static Dictionary<string, string> ParseSums(string sums)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in sums.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string hash = line[..64];
            string path = line[66..];
            result[path.StartsWith("./", StringComparison.Ordinal) ? path[1..] : "/" + path] = hash;
        }
        return result;
    }

    /// <summary>A sparse copy of the image for a destructive (corruption) test.</summary>
    public string CopyImage(string name)
    {
        string copy = Path.Combine(WorkDir, name);
        ProcessRunner.Check("cp", "--sparse=always", ImagePath, copy);
        return copy;
    }

    public void Dispose() => _temp?.Dispose();
}

/// <summary>Shares one kernel-built image between the XFS test classes (built once, on first use).</summary>
[CollectionDefinition(Name)]
public sealed class XfsKernelImageCollection : ICollectionFixture<XfsKernelImage>
{
    public const string Name = "XFS kernel-built image";
}
