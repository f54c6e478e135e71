using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>
/// A $MFT that had to grow into one-cluster holes: hundreds of runs, its $DATA continued in an
/// extension record named by $MFT's own $ATTRIBUTE_LIST. Records past the first fragment can only
/// be found through that list.
/// </summary>
public sealed class NtfsFragmentedMftTests : IDisposable
{
    private readonly TempDirectory _temp = new("mc-ntfs-mft");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [FileSystemToolsFact("mkntfs", "ntfs-3g", "istat", NeedsRootAndFuse = true)]
    public void Fragmented_mft_continued_through_its_attribute_list_is_read_completely()
    {
        string image = Path.Combine(_dir, "ntfs.img"), mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"truncate -s 32M {image} && mkntfs -F -Q {image} >/dev/null 2>&1 && ntfs-3g {image} {mnt}");
        string expected;
        try
        {
            // Fill the volume, free every other one-cluster file, then create more files than
            // were freed: the MFT must extend into the holes.
            expected = ProcessRunner.Bash("""
                mkdir h && for i in $(seq 1 2000); do printf '%4096s' $i > h/x$i; done
                cat /dev/zero > filler 2>/dev/null || true
                rm h/x{1..2000..2}
                mkdir g && for i in $(seq 1 4000); do echo $i > g/f$i; done
                rm filler
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
                """, mnt);
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        string mft = ProcessRunner.Bash($"istat -r {image} 0");
        Assert.Contains("$ATTRIBUTE_LIST", mft);
        Assert.True(mft.Split('\n').Count(l => l.Contains("Starting address")) > 100, "the $MFT should have hundreds of runs");

        var r = MountChainCli.Run("files-hash", image);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(5000, r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(expected, r.Stdout);
    }
}
