using MountChain.FileSystems.Common;
using MountChain.Mounting.FileTree;
using MountChain.Mounting.Trees;
using MountChain.Tests.Fuse;

namespace MountChain.Tests.FileTree;

/// <summary>The pieces of the --files tree that need no mount: cache bound, hole seeking, node mapping, option checks.</summary>
public sealed class FileTreeLogicTests
{
    [Fact]
    public void Bounded_cache_drops_the_least_recently_used_entry_at_capacity()
    {
        var cache = new BoundedCache<string, int>(2);
        cache.Set("a", 1);
        cache.Set("b", 2);
        Assert.True(cache.TryGet("a", out _)); // a is now the most recent
        cache.Set("c", 3);
        Assert.Equal(2, cache.Count);
        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out int a) && a == 1);
        Assert.True(cache.TryGet("c", out int c) && c == 3);
        cache.Set("c", 4);
        Assert.True(cache.TryGet("c", out c) && c == 4);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void Seeking_data_and_holes_follows_the_allocated_ranges()
    {
        (long, long)[] ranges = [(4096, 4096), (8192, 100), (65536, 4096)];
        const long size = 100_000;
        Assert.Equal(4096, RangeSeeker.SeekData(ranges, size, 0));
        Assert.Equal(5000, RangeSeeker.SeekData(ranges, size, 5000));
        Assert.Equal(65536, RangeSeeker.SeekData(ranges, size, 8292));
        Assert.Equal(FileTreeError.NoData, Assert.Throws<FileTreeException>(() => RangeSeeker.SeekData(ranges, size, 69632)).Error);
        Assert.Equal(0, RangeSeeker.SeekHole(ranges, size, 0));
        Assert.Equal(8292, RangeSeeker.SeekHole(ranges, size, 4096)); // touching ranges are one stretch of data
        Assert.Equal(69632, RangeSeeker.SeekHole(ranges, size, 66000));
        Assert.Equal(90000, RangeSeeker.SeekHole(ranges, size, 90000));
        Assert.Equal(7, RangeSeeker.SeekData(null, size, 7));
        Assert.Equal(size, RangeSeeker.SeekHole(null, size, 7));
        Assert.Equal(FileTreeError.NoData, Assert.Throws<FileTreeException>(() => RangeSeeker.SeekHole(null, size, size)).Error);
    }

    [Fact]
    public void Node_ids_carry_the_on_disk_number_and_the_partition_in_the_top_byte()
    {
        Assert.Equal(128L, EntryNodes.NodeId(0, 128));
        Assert.Equal((2L << 56) | 128, EntryNodes.NodeId(2, 128));
        Assert.NotEqual(EntryNodes.NodeId(1, 64), EntryNodes.NodeId(2, 64));
    }

    [Fact]
    public void Ntfs_entries_get_read_only_modes_and_xfs_entries_keep_their_own()
    {
        var ntfsFile = new FsEntry { Name = "a", Path = "/a", Type = FsEntryType.File, Size = 5, Id = 70, LinkCount = 2 };
        var ntfsDir = ntfsFile with { Type = FsEntryType.Directory, LinkCount = 1 };
        var ntfsLink = ntfsFile with { Type = FsEntryType.Symlink, LinkCount = 1 };
        var xfsFile = ntfsFile with { Mode = 0x8000 | 0x9ED /* 04755 */, Uid = 1234, Gid = 5678 };
        var xfsFifo = ntfsFile with { Type = FsEntryType.Other, Mode = 0x1000 | 0x1A4 };
        var fs = new NoRangesFileSystem();
        Assert.Equal(0x8000u | 0x124, UnixAttributes.Mode(EntryNodes.ToNode(fs, ntfsFile, "a", 1)));
        Assert.Equal(0x4000u | 0x16D, UnixAttributes.Mode(EntryNodes.ToNode(fs, ntfsDir, "a", 1)));
        Assert.Equal(0xA000u | 0x1FF, UnixAttributes.Mode(EntryNodes.ToNode(fs, ntfsLink, "a", 1)));
        Assert.Equal(2u, UnixAttributes.LinkCount(EntryNodes.ToNode(fs, ntfsFile, "a", 1)));
        Assert.Equal(1u, UnixAttributes.LinkCount(EntryNodes.ToNode(fs, ntfsDir, "a", 1)));
        var xfs = EntryNodes.ToNode(fs, xfsFile, "a", 2);
        Assert.Equal(0x8000u | 0x9ED, UnixAttributes.Mode(xfs));
        Assert.Equal((1234u, 5678u), UnixAttributes.Owner(xfs, 0, 0));
        Assert.Equal((1000u, 1000u), UnixAttributes.Owner(xfs, 1000, 1000)); // a non-root server owns what it shows
        var fifo = EntryNodes.ToNode(fs, xfsFifo, "f", 2);
        Assert.Equal(NodeKind.Special, fifo.Kind);
        Assert.Equal(0x1000u | 0x1A4, UnixAttributes.Mode(fifo));
        // A stored mode whose type contradicts the entry's is not trusted.
        var odd = EntryNodes.ToNode(fs, ntfsFile with { Mode = 0x4000 | 0x1FF }, "a", 2);
        Assert.Equal(0x8000u | 0x124, UnixAttributes.Mode(odd));
    }

    [Fact]
    public void Files_and_write_together_are_a_usage_error()
    {
        using var scratch = new TempDirectory("mc-fuse");
        File.WriteAllBytes(scratch.File("disk.raw"), new byte[1 << 20]);
        var r = MountChainCli.Run("mount", scratch.File("disk.raw"), scratch.Dir("mnt"), "--files", "--write");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--files", r.Stderr);
    }

    /// <summary>Only <see cref="IFileSystem.GetAllocatedRanges"/> is reached by the node mapping; it answers "unknown".</summary>
    private sealed class NoRangesFileSystem : IFileSystem
    {
        public string Kind => "test";
        public string Label => "";
        public FsEntry Root => throw new NotSupportedException();
        public IReadOnlyList<FsEntry> List(FsEntry directory) => throw new NotSupportedException();
        public FsEntry? Lookup(string path) => throw new NotSupportedException();
        public int Read(FsEntry entry, Span<byte> buffer, long offset) => throw new NotSupportedException();
        public string ReadLink(FsEntry entry) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
