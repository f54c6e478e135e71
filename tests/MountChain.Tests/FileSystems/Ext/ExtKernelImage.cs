using MountChain.Tests.Infrastructure;
using MountChain.Tests.FileSystems.Xfs;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>
/// ext images made by mkfs (ext4 defaults: 64bit, flex_bg, extents, huge_file, dir_nlink,
/// extra_isize, metadata_csum; ext4 with inline_data; ext2 with 1 KiB blocks, whose files map
/// through direct, single, double and triple indirect blocks), each populated by the Linux kernel
/// through a loop mount, with the kernel's own view (find listing, sha256sum, getfattr) taken
/// before unmounting. Built once per test collection, lazily.
/// </summary>
public sealed class ExtKernelImage : IDisposable
{
    /// <summary>Populates the mounted file system; $1 is the mount point, $2 the variant (ext4, inline, ext2).</summary>
    public const string PopulateScript = """
        set -euo pipefail
        cd "$1"
        rnd() { head -c "$1" /dev/urandom; }
        mkdir small
        for i in $(seq 0 149); do rnd $(( (i * 389) % 9001 )) > small/f$i; done
        : > empty
        echo tiny > tiny
        rnd 59 > inline59
        rnd 150 > inline150
        # fragmented files: interleaved appends with fsync
        mkdir big
        for r in $(seq 1 24); do for f in a b c; do rnd 32768 >> big/$f; sync big/$f; done; done
        # holes: leading, middle, punched, unwritten (fallocate), and a file whose tail is a hole
        mkdir sparse
        dd if=/dev/urandom of=sparse/holes bs=64k count=2 seek=3 status=none
        dd if=/dev/urandom of=sparse/holes bs=64k count=2 seek=40 conv=notrunc status=none
        truncate -s 12M sparse/tailhole
        dd if=/dev/urandom of=sparse/tailhole bs=64k count=3 conv=notrunc status=none
        truncate -s 9M sparse/onlyhole
        if [ "$2" != ext2 ]; then
          fallocate -p -o 200704 -l 65536 sparse/holes
          fallocate -l 2M sparse/prealloc
          dd if=/dev/urandom of=sparse/prealloc bs=4k count=3 seek=100 conv=notrunc status=none
          fallocate -l 1M -o 1M -n sparse/tailhole
          rnd 5000 > sparse/beyond; fallocate -n -o 8192 -l 1M sparse/beyond
        else
          # beyond 64 MiB of 1 KiB blocks: reached through the triple indirect block
          truncate -s 80M sparse/triple
          dd if=/dev/urandom of=sparse/triple bs=1k count=300 seek=70000 conv=notrunc status=none
          dd if=/dev/urandom of=sparse/triple bs=1k count=5 seek=200 conv=notrunc status=none
        fi
        # a deep extent tree: thousands of extents
        if [ "$2" = ext4 ]; then
          dd if=/dev/urandom of=sparse/many bs=1M count=24 status=none
          for i in $(seq 0 1999); do fallocate -p -o $(( i * 8192 + 4096 )) -l 4096 sparse/many; done
        fi
        # large directories: htree (dir_index) with deletions, and a small linear one
        mkdir -p dirs/many dirs/few
        for i in $(seq 1 3000); do : > "dirs/many/entry-with-a-fairly-long-name-$i"; done
        for i in $(seq 1 3 3000); do rm "dirs/many/entry-with-a-fairly-long-name-$i"; done
        for i in $(seq 1 5); do echo $i > dirs/few/n$i; done
        mkdir 'ünïcødé ☃'; echo snow > 'ünïcødé ☃/日本語.txt'
        p=deep; for i in $(seq 1 30); do p="$p/l$i"; done; mkdir -p "$p"; echo bottom > "$p/leaf"
        # symlinks (fast and slow), hard links, special files, xattrs, modes, owners, old times
        mkdir links
        ln -s ../small/f1 links/fast
        ln -s "../$(printf 'long-component-%02d/' $(seq 1 12))target" links/slow
        ln -s ../small links/dirlink
        ln small/f5 links/hard5
        mkfifo special-fifo
        mknod special-char c 1 3
        mknod special-block b 7 0
        echo attr > xattrs
        setfattr -n user.color -v blue xattrs
        setfattr -n user.big -v "$(head -c 700 /dev/zero | tr '\0' z)" xattrs
        setfacl -m u:1234:r,g:55:rw xattrs
        chmod 4751 small/f2; chown 1234:5678 small/f3
        touch -d '1969-07-20 20:17:40.123456789' tiny
        touch -d '2040-01-01 00:00:00.5' small/f4
        sync
        """;

    public sealed record Image(string Variant, string Path, Dictionary<string, KernelEntry> Entries, Dictionary<string, string> Sha256, string Xattrs);

    private readonly Lazy<string> _dir = new(() => Directory.CreateTempSubdirectory("mountchain-ext-").FullName);
    private readonly Dictionary<string, Lazy<Image>> _images = new();

    public ExtKernelImage()
    {
        foreach (var v in new[] { "ext4", "inline", "ext2" }) _images[v] = new Lazy<Image>(() => Build(v));
    }

    public Image Get(string variant) => _images[variant].Value;
    public string WorkDir => _dir.Value;

    private Image Build(string variant)
    {
        string dir = Path.Combine(_dir.Value, variant);
        Directory.CreateDirectory(dir);
        string image = Path.Combine(dir, "fs.img"), mnt = Path.Combine(dir, "mnt"), script = Path.Combine(dir, "populate.sh");
        Directory.CreateDirectory(mnt);
        File.WriteAllText(script, PopulateScript);
        ProcessRunner.Check("truncate", "-s", "160M", image);
        string[] mkfs = variant switch
        {
            "ext4" => ["mkfs.ext4", "-q", "-F", "-L", "root", image],
            "inline" => ["mkfs.ext4", "-q", "-F", "-O", "inline_data", "-I", "256", image],
            _ => ["mkfs.ext2", "-q", "-F", "-b", "1024", "-I", "128", image],
        };
        ProcessRunner.Check(mkfs[0], mkfs[1..]);
        ProcessRunner.Check("mount", "-o", "loop", image, mnt);
        string listing, sums, xattrs;
        try
        {
            ProcessRunner.Check("bash", script, mnt, variant);
            listing = ProcessRunner.CheckIn(mnt, "find", ".", "-mindepth", "1", "-printf", "%P\\t%y\\t%s\\t%T@\\t%i\\t%n\\t%m\\t%U\\t%G\\t%l\\n");
            sums = ProcessRunner.CheckIn(mnt, "bash", "-c", "find . -type f -print0 | xargs -0 sha256sum");
            xattrs = ProcessRunner.CheckIn(mnt, "getfattr", "--absolute-names", "-d", "-m", "-", "-e", "hex", "xattrs");
        }
        finally { ProcessRunner.Check("umount", mnt); }
        return new Image(variant, image, XfsKernelImage.ParseListing(listing), XfsKernelImage.ParseSums(sums), xattrs);
    }

    /// <summary>A sparse copy of an image for a destructive (corruption) test.</summary>
    public string CopyImage(string variant, string name)
    {
        string copy = Path.Combine(WorkDir, name);
        ProcessRunner.Check("cp", "--sparse=always", Get(variant).Path, copy);
        return copy;
    }

    public void Dispose()
    {
        if (!_dir.IsValueCreated) return;
        try { Directory.Delete(_dir.Value, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class ExtKernelImageCollection : ICollectionFixture<ExtKernelImage>
{
    public const string Name = "ext kernel-built images";
}

/// <summary>Needs root, loop devices and e2fsprogs (mkfs.ext4, debugfs) to build images with the kernel's ext4 driver.</summary>
public sealed class ExtRootFactAttribute : FactAttribute
{
    public ExtRootFactAttribute()
    {
        if (!ToolLocator.Exists("mkfs.ext4") || !ToolLocator.Exists("debugfs") || !ToolLocator.Exists("setfattr") || !ToolLocator.Exists("setfacl")) Skip = "needs e2fsprogs, attr and acl";
        else if (!XfsTestEnvironment.IsRoot) Skip = "needs root for mount -o loop";
        else if (!File.Exists("/dev/loop-control")) Skip = "needs loop devices";
    }
}

public sealed class ExtRootTheoryAttribute : TheoryAttribute
{
    public ExtRootTheoryAttribute()
    {
        if (!ToolLocator.Exists("mkfs.ext4") || !ToolLocator.Exists("debugfs") || !ToolLocator.Exists("setfattr") || !ToolLocator.Exists("setfacl")) Skip = "needs e2fsprogs, attr and acl";
        else if (!XfsTestEnvironment.IsRoot) Skip = "needs root for mount -o loop";
        else if (!File.Exists("/dev/loop-control")) Skip = "needs loop devices";
    }
}

internal static class ProcessRunnerExtensions
{
    extension(ProcessRunner)
    {
        /// <summary>Runs <paramref name="file"/> in <paramref name="workingDirectory"/>; fails on a non-zero exit; returns stdout.</summary>
        public static string CheckIn(string workingDirectory, string file, params string[] args) => ProcessRunner.Check(file, args, workingDirectory);
    }
}
