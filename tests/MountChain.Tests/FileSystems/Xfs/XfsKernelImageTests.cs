using System.Diagnostics;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Xfs;
using Xunit.Abstractions;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>The reader against a v5 image the Linux kernel populated: every answer must equal the kernel's.</summary>
[Collection(XfsKernelImageCollection.Name)]
public sealed class XfsKernelImageTests(XfsKernelImage image, ITestOutputHelper output)
{
    private XfsFileSystem OpenImage(string? path = null) => XfsFileSystem.Open(new RawFileBlockDevice(path ?? image.ImagePath), ownsDevice: true);

    [XfsRootFact]
    public void Listing_equals_find_on_the_kernel_mount()
    {
        using var fs = OpenImage();
        Assert.Equal(5, fs.Version);
        var ours = XfsReaderTreeWalk.WalkAll(fs);
        Assert.Equal(image.Entries.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        Assert.True(ours.Count > 6900, $"only {ours.Count} entries");
    }

    [XfsRootFact]
    public void Metadata_equals_stat_on_the_kernel_mount()
    {
        using var fs = OpenImage();
        foreach (var (path, e) in XfsReaderTreeWalk.WalkAll(fs))
        {
            var k = image.Entries[path];
            char type = e.Type switch { FsEntryType.File => 'f', FsEntryType.Directory => 'd', FsEntryType.Symlink => 'l', _ => '?' };
            Assert.True(k.Type == type, $"{path}: type {type}, kernel {k.Type}");
            Assert.True(k.Size == e.Size, $"{path}: size {e.Size}, kernel {k.Size}");
            Assert.True(k.Inode == e.Id, $"{path}: inode {e.Id}, kernel {k.Inode}");
            Assert.True(k.Links == e.LinkCount, $"{path}: nlink {e.LinkCount}, kernel {k.Links}");
            Assert.True(k.Mode == (e.Mode & 0xFFF), $"{path}: mode {Convert.ToString(e.Mode ?? 0, 8)}, kernel {Convert.ToString(k.Mode, 8)}");
            Assert.Equal(k.Uid, e.Uid);
            Assert.Equal(k.Gid, e.Gid);
            var mtime = e.ModifiedTime!.Value;
            long ticks = mtime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
            Assert.True(k.MtimeSeconds == Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long sub) && k.MtimeSubTicks == sub,
                $"{path}: mtime {mtime:O}, kernel {k.MtimeSeconds}.{k.MtimeSubTicks:D7}");
            if (e.Type == FsEntryType.Symlink) Assert.Equal(k.LinkTarget, fs.ReadLink(e));
        }
    }

    [XfsRootFact]
    public void Every_regular_file_hashes_like_sha256sum()
    {
        using var fs = OpenImage();
        var sw = Stopwatch.StartNew();
        long bytes = 0;
        var files = XfsReaderTreeWalk.WalkAll(fs).Values.Where(e => e.Type == FsEntryType.File && e.Path != "/sparse/huge").ToList();
        Assert.Equal(image.Sha256.Count, files.Count);
        foreach (var f in files)
        {
            Assert.True(image.Sha256[f.Path] == XfsReaderTreeWalk.Sha256(fs, f), $"{f.Path}: content differs from the kernel's");
            bytes += f.Size;
        }
        output.WriteLine($"hashed {files.Count} files, {bytes >> 20} MiB (mostly holes) in {sw.ElapsedMilliseconds} ms");
    }

    [XfsRootFact]
    public void The_many_extent_file_is_a_two_level_btree_and_reads_correctly()
    {
        var k = image.Entries["/btree/many"];
        string db = XfsProcess.XfsDb(image.ImagePath, false, $"inode {k.Inode}", "print core.format u3.bmbt.level");
        Assert.Contains("core.format = 3", db);
        Assert.Contains("u3.bmbt.level = 2", db);
        using var fs = OpenImage();
        var e = fs.Lookup("/btree/many")!;
        var ranges = fs.GetAllocatedRanges(e)!;
        // 6000 punched holes leave 6000 single-block extents plus the unpunched tail.
        Assert.Equal(6001, ranges.Count);
        Assert.All(ranges.Take(6000), r => Assert.Equal(4096, r.Length));
        Assert.Equal(image.Sha256["/btree/many"], XfsReaderTreeWalk.Sha256(fs, e, 12345));
    }

    [XfsRootFact]
    public void Large_directories_use_the_btree_and_block_forms()
    {
        foreach (var (dir, format) in new[] { ("/dirs/many", "3 (btree)"), ("/dirs/other", "3 (btree)"), ("/dirs/block", "2 (extents)"), ("/sf", "1 (local)") })
            Assert.Contains($"core.format = {format}", XfsProcess.XfsDb(image.ImagePath, false, $"inode {image.Entries[dir].Inode}", "print core.format"));
        using var fs = OpenImage();
        Assert.Equal(2666, fs.List(fs.Lookup("/dirs/many")!).Count);
        Assert.Equal(4000, fs.List(fs.Lookup("/dirs/other")!).Count);
    }

    [XfsRootFact]
    public void Sparse_files_report_holes_and_read_them_as_zeros()
    {
        using var fs = OpenImage();
        var huge = fs.Lookup("/sparse/huge")!;
        Assert.Equal(4300L << 20, huge.Size);
        var ranges = fs.GetAllocatedRanges(huge)!;
        Assert.Equal([(0L, 256L << 10), (4200L << 20, 256L << 10)], ranges);
        byte[] buffer = new byte[1 << 16];
        Assert.Equal(buffer.Length, fs.Read(huge, buffer, 3L << 30));
        Assert.All(buffer, b => Assert.Equal(0, b));
        var prealloc = fs.Lookup("/sparse/prealloc")!;
        Assert.Equal([(200L * 4096, 3L * 4096)], fs.GetAllocatedRanges(prealloc)!);
        Assert.Equal(0, fs.Read(huge, buffer, huge.Size));
        byte[] tail = new byte[512 << 10];
        Assert.Equal(tail.Length, fs.Read(huge, tail, XfsKernelImage.HugeTailOffset));
        Assert.Equal(image.HugeTailSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(tail)));
    }

    [XfsRootFact]
    public void Lookup_follows_symlinks_in_the_middle_and_resolves_unicode_and_deep_paths()
    {
        using var fs = OpenImage();
        Assert.Equal(image.Entries["/small/f7"].Inode, fs.Lookup("/links/dirlink/f7")!.Id);
        Assert.Equal(FsEntryType.Symlink, fs.Lookup("/links/dirlink")!.Type);
        Assert.Equal(image.Entries["/ünïcødé dir ☃/日本語ファイル.txt"].Inode, fs.Lookup("/ünïcødé dir ☃/日本語ファイル.txt")!.Id);
        string deep = "/deep/" + string.Join('/', Enumerable.Range(1, 40).Select(i => $"level{i}")) + "/leaf.txt";
        Assert.Equal(image.Entries[deep].Inode, fs.Lookup(deep)!.Id);
        Assert.Null(fs.Lookup("/small/no-such-file"));
        Assert.Equal(fs.Lookup("/small/f5")!.Id, fs.Lookup("/links/hard5")!.Id);
        Assert.True(fs.ReadLink(fs.Lookup("/links/long")!).Length > 300);
    }

    [XfsRootFact]
    public void Concurrent_reads_of_fragmented_files_agree()
    {
        using var fs = OpenImage();
        var files = new[] { "/big/a", "/big/b", "/big/c", "/btree/many", "/sparse/holes" }.Select(p => fs.Lookup(p)!).ToArray();
        Parallel.For(0, 20, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var f = files[i % files.Length];
            Assert.Equal(image.Sha256[f.Path], XfsReaderTreeWalk.Sha256(fs, f, 4096 * (1 + i % 7) + i));
        });
    }
}
