using MountChain.Mounting.FileTree;

namespace MountChain.Tests.FileTree;

/// <summary>One line of <see cref="FileTreeDisk.ViewOf"/>'s find -printf listing.</summary>
public sealed record StatLine(string Path, char Type, long Size, string Mtime, string Mode, uint Links, uint Uid, uint Gid, ulong Inode, string Target)
{
    public static Dictionary<string, StatLine> Parse(string listing) =>
        listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var f = line.Split('\t');
            return new StatLine(f[0], f[1][0], long.Parse(f[2]), f[3], f[4], uint.Parse(f[5]), uint.Parse(f[6]), uint.Parse(f[7]), ulong.Parse(f[8]), f[9]);
        }).ToDictionary(s => s.Path, StringComparer.Ordinal);

    /// <summary>%T@ cut to 100 ns: the readers' timestamps are DateTimeOffset ticks, XFS stores nanoseconds.</summary>
    public string MtimeTo100ns
    {
        get
        {
            var parts = Mtime.Split('.');
            return parts[0] + "." + (parts.Length > 1 ? parts[1] : "").PadRight(7, '0')[..7];
        }
    }
}

/// <summary>Compares the FUSE tree's stat listing with the kernel's / ntfs-3g's for one partition.</summary>
public static class StatComparison
{
    public static void AssertAgree(string expectedListing, string actualListing, int partition, bool ntfs)
    {
        var expected = StatLine.Parse(expectedListing);
        var actual = StatLine.Parse(actualListing);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, e) in expected)
        {
            var a = actual[path];
            string what = $"p{partition}/{path}";
            Assert.True(e.Type == a.Type, $"{what}: type {a.Type}, kernel {e.Type}");
            // ntfs-3g sizes directories by their index differently; file and link sizes must agree.
            if (!(ntfs && e.Type == 'd')) Assert.True(e.Size == a.Size, $"{what}: size {a.Size}, kernel {e.Size}");
            Assert.True(e.MtimeTo100ns == a.MtimeTo100ns, $"{what}: mtime {a.Mtime}, kernel {e.Mtime}");
            Assert.True(e.Links == a.Links, $"{what}: nlink {a.Links}, kernel {e.Links}");
            Assert.True(e.Uid == a.Uid && e.Gid == a.Gid, $"{what}: owner {a.Uid}:{a.Gid}, kernel {e.Uid}:{e.Gid}");
            Assert.True(e.Target == a.Target, $"{what}: link target '{a.Target}', kernel '{e.Target}'");
            // st_ino: the on-disk inode / MFT record number, tagged with the partition in the top byte.
            Assert.True(e.Inode == (a.Inode & EntryNodes.OnDiskIdMask), $"{what}: inode {a.Inode:x}, kernel {e.Inode:x}");
            Assert.Equal((ulong)partition, a.Inode >> EntryNodes.PartitionShift);
            // NTFS has no Unix modes: 0555 directories, 0444 files, 0777 links; XFS modes are the on-disk ones.
            string mode = ntfs ? a.Type switch { 'd' => "555", 'l' => "777", _ => "444" } : e.Mode;
            Assert.True(mode == a.Mode, $"{what}: mode {a.Mode}, expected {mode}");
        }
    }
}
