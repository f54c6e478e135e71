using MountChain.Tests.Infrastructure;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Ext;
using MountChain.Tests.FileSystems.Xfs;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>The ext reader against images the Linux kernel populated: every answer must equal the kernel's.</summary>
[Collection(ExtKernelImageCollection.Name)]
public sealed class ExtKernelImageTests(ExtKernelImage images)
{
    private static ExtFileSystem Open(string path, ExtChecksumPolicy? policy = null) =>
        ExtFileSystem.Open(new RawFileBlockDevice(path), policy, ownsDevice: true);

    [ExtRootTheory]
    [InlineData("ext4")]
    [InlineData("inline")]
    [InlineData("ext2")]
    public void Listing_metadata_and_content_equal_the_kernel_view(string variant)
    {
        var image = images.Get(variant);
        var policy = new ExtChecksumPolicy { Strict = true };
        using var fs = Open(image.Path, policy);
        Assert.Equal(variant == "ext2" ? "ext2" : "ext4", fs.Kind);
        var ours = XfsReaderTreeWalk.WalkAll(fs);
        Assert.Equal(image.Entries.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, e) in ours)
        {
            var k = image.Entries[path];
            char type = e.Type switch { FsEntryType.File => 'f', FsEntryType.Directory => 'd', FsEntryType.Symlink => 'l', _ => KindOf(e.Mode) };
            Assert.True(k.Type == type, $"{path}: type {type}, kernel {k.Type}");
            if (k.Type is 'f' or 'l' or 'd') Assert.True(k.Size == e.Size, $"{path}: size {e.Size}, kernel {k.Size}");
            Assert.True(k.Inode == e.Id, $"{path}: inode {e.Id}, kernel {k.Inode}");
            Assert.True(k.Links == e.LinkCount, $"{path}: nlink {e.LinkCount}, kernel {k.Links}");
            Assert.True(k.Mode == (e.Mode & 0xFFF), $"{path}: mode {Convert.ToString(e.Mode ?? 0, 8)}, kernel {Convert.ToString(k.Mode, 8)}");
            Assert.Equal(k.Uid, e.Uid);
            Assert.Equal(k.Gid, e.Gid);
            long ticks = e.ModifiedTime!.Value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
            long seconds = (long)Math.Floor(ticks / (double)TimeSpan.TicksPerSecond), sub = ticks - seconds * TimeSpan.TicksPerSecond;
            if (k.MtimeSeconds >= 0) Assert.True(k.MtimeSeconds == seconds && k.MtimeSubTicks == sub, $"{path}: mtime {e.ModifiedTime:O}, kernel {k.MtimeSeconds}.{k.MtimeSubTicks:D7}");
            if (e.Type == FsEntryType.Symlink) Assert.Equal(k.LinkTarget, fs.ReadLink(e));
            if (e.Type == FsEntryType.File) Assert.True(image.Sha256[path] == XfsReaderTreeWalk.Sha256(fs, e, 100_003), $"{path}: content differs from the kernel's");
        }
        Assert.Empty(policy.Warnings);
    }

    [ExtRootFact]
    public void Times_before_1970_and_after_2038_decode_as_the_kernel_stores_them()
    {
        using var fs = Open(images.Get("ext4").Path);
        Assert.Equal(DateTimeOffset.Parse("1969-07-20T20:17:40.1234567Z"), fs.Lookup("/tiny")!.ModifiedTime);
        Assert.Equal(DateTimeOffset.Parse("2040-01-01T00:00:00.5Z"), fs.Lookup("/small/f4")!.ModifiedTime);
    }

    [ExtRootTheory]
    [InlineData("ext4")]
    [InlineData("ext2")]
    public void Holes_are_not_allocated_ranges_and_a_tail_hole_reads_as_zeros(string variant)
    {
        using var fs = Open(images.Get(variant).Path);
        var tail = fs.Lookup("/sparse/tailhole")!;
        Assert.Equal(12L << 20, tail.Size);
        var ranges = fs.GetAllocatedRanges(tail)!;
        Assert.Equal((0L, 3L * 65536), ranges[0]);
        Assert.All(ranges, r => Assert.True(r.Offset + r.Length <= 3 * 65536, $"range {r} lies in the hole"));
        var buffer = new byte[1 << 20];
        Assert.Equal(buffer.Length, fs.Read(tail, buffer, (12L << 20) - buffer.Length));
        Assert.DoesNotContain(buffer, b => b != 0);
        var only = fs.Lookup("/sparse/onlyhole")!;
        Assert.Empty(fs.GetAllocatedRanges(only)!);
        Assert.Equal(9L << 20, only.Size);
        var holes = fs.GetAllocatedRanges(fs.Lookup("/sparse/holes")!)!;
        Assert.Equal(3L * 65536, holes[0].Offset);
    }

    [ExtRootFact]
    public void Unwritten_extents_read_as_zeros_and_extents_past_the_size_are_ignored()
    {
        using var fs = Open(images.Get("ext4").Path);
        var pre = fs.Lookup("/sparse/prealloc")!;
        var ranges = fs.GetAllocatedRanges(pre)!;
        Assert.Equal([(100L * 4096, 3L * 4096)], ranges);
        var beyond = fs.Lookup("/sparse/beyond")!;
        Assert.Equal(5000, beyond.Size);
        Assert.All(fs.GetAllocatedRanges(beyond)!, r => Assert.True(r.Offset + r.Length <= 5000));
    }

    [ExtRootFact]
    public void A_file_of_thousands_of_extents_has_a_deep_tree_and_reads_correctly()
    {
        var image = images.Get("ext4");
        string stat = ProcessRunner.Check("debugfs", "-R", "stat /sparse/many", image.Path);
        Assert.Contains("(ETB1)", stat); // two levels of extent tree blocks below the inode: a tree of depth 2
        using var fs = Open(image.Path);
        var many = fs.Lookup("/sparse/many")!;
        Assert.True(fs.GetAllocatedRanges(many)!.Count >= 2000);
        Assert.Equal(image.Sha256["/sparse/many"], XfsReaderTreeWalk.Sha256(fs, many, 12345));
    }

    [ExtRootFact]
    public void The_ext2_image_maps_through_triple_indirect_blocks()
    {
        var image = images.Get("ext2");
        string stat = ProcessRunner.Check("debugfs", "-R", "stat /sparse/triple", image.Path);
        Assert.Contains("(TIND)", stat);
        using var fs = Open(image.Path);
        Assert.Equal(image.Sha256["/sparse/triple"], XfsReaderTreeWalk.Sha256(fs, fs.Lookup("/sparse/triple")!));
    }

    [ExtRootFact]
    public void Htree_and_inline_directories_list_every_entry()
    {
        Assert.NotEqual(0u, DebugfsFlags(images.Get("ext4").Path, "/dirs/many") & 0x1000); // EXT4_INDEX_FL
        Assert.NotEqual(0u, DebugfsFlags(images.Get("inline").Path, "/dirs/few") & 0x10000000); // EXT4_INLINE_DATA_FL
        using var fs = Open(images.Get("inline").Path);
        Assert.Equal(5, fs.List(fs.Lookup("/dirs/few")!).Count);
        Assert.Equal(2000, fs.List(fs.Lookup("/dirs/many")!).Count);
    }

    [ExtRootFact]
    public void Xattrs_equal_getfattr()
    {
        var image = images.Get("ext4");
        using var fs = Open(image.Path);
        var attrs = fs.GetExtendedAttributes(fs.Lookup("/xattrs")!).Where(a => a.Name.StartsWith("user.")).ToDictionary(a => a.Name, a => a.Value);
        foreach (var line in image.Xattrs.Split('\n').Where(l => l.StartsWith("user.")))
        {
            int eq = line.IndexOf('=');
            Assert.Equal(line[(eq + 3)..], Convert.ToHexStringLower(attrs[line[..eq]]));
        }
        Assert.Equal(2, attrs.Count);
    }

    [ExtRootFact]
    public void Special_files_are_listed_and_read_no_data()
    {
        using var fs = Open(images.Get("ext4").Path);
        foreach (var name in new[] { "special-fifo", "special-char", "special-block" })
        {
            var e = fs.Lookup("/" + name)!;
            Assert.Equal(FsEntryType.Other, e.Type);
            Assert.Equal(0, fs.Read(e, new byte[16], 0));
        }
    }

    private static uint DebugfsFlags(string image, string path)
    {
        string stat = ProcessRunner.Check("debugfs", "-R", $"stat {path}", image);
        int at = stat.IndexOf("Flags: 0x", StringComparison.Ordinal) + 9;
        return Convert.ToUInt32(new string(stat[at..].TakeWhile(Uri.IsHexDigit).ToArray()), 16);
    }

    private static char KindOf(uint? mode) => (mode & 0xF000) switch { 0x1000 => 'p', 0x2000 => 'c', 0x6000 => 'b', 0xC000 => 's', _ => '?' };
}
