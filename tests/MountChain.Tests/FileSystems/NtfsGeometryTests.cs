using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>Cluster sizes change how runs, index VCNs (512-byte units when blocks are smaller than a cluster) and compression work.</summary>
public sealed class NtfsGeometryTests : IDisposable
{
    private readonly TempDirectory _temp = new("mc-ntfs-geometry");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [FileSystemToolsTheory("mkntfs", "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    [InlineData(512)]
    [InlineData(2048)]
    [InlineData(65536)]
    public void Files_hash_equals_the_mount_for_cluster_size(int clusterSize)
    {
        string image = Path.Combine(_dir, "ntfs.img"), mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"truncate -s 64M {image} && mkntfs -F -Q -c {clusterSize} {image} >/dev/null 2>&1 && ntfs-3g {image} {mnt}");
        string expected, ls;
        try
        {
            expected = ProcessRunner.Bash("""
                set +o pipefail
                mkdir many && for i in $(seq 1 600); do echo "$i" > many/name_$i.txt; done
                head -c 3000000 /dev/urandom > random.bin
                truncate -s 20M sparse.bin && printf x | dd of=sparse.bin bs=1 seek=12345678 conv=notrunc status=none
                mkdir comp && setfattr -n system.ntfs_attrib_be -v 0x00000800 comp 2>/dev/null || true
                yes 'text to compress' | head -c 500000 > comp/text.txt
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
                """, mnt);
            ls = ProcessRunner.Bash("find . -mindepth 1 | LC_ALL=C sort", mnt);
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        var r = MountChainCli.Run("files-hash", image);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, r.Stdout);
        var ours = MountChainCli.Run("ls", image, "p0:/", "-r");
        Assert.Equal(ls.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => p[1..]).Order(StringComparer.Ordinal),
            ours.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
    }
}
