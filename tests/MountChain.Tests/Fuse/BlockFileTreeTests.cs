using System.Runtime.CompilerServices;
using MountChain.Core.BlockDevices;
using MountChain.Mounting.BlockFile;
using MountChain.Fuse.Hosting;
using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Tests.Fuse;

/// <summary>The platform-neutral tree logic shared by FUSE and Dokan, without a kernel.</summary>
public sealed class BlockFileTreeTests
{
    [Fact]
    public void Tree_is_a_directory_holding_only_disk_raw_of_the_device_size()
    {
        var tree = new BlockFileTree(new MemoryBlockDevice(new byte[3 << 20], writable: false));
        Assert.True(tree.Find("/")!.IsDirectory);
        var file = tree.Find("/disk.raw")!;
        Assert.Equal(NodeKind.RegularFile, file.Kind);
        Assert.Equal(3L << 20, file.Size);
        Assert.False(file.Writable);
        Assert.Equal(file, tree.Find("\\disk.raw"));
        Assert.Null(tree.Find("/other"));
        Assert.Equal(["disk.raw"], tree.List("/").Select(n => n.Name));
        Assert.Equal(FileTreeError.NotADirectory, Assert.Throws<FileTreeException>(() => tree.List("/disk.raw")).Error);
        Assert.Equal(FileTreeError.IsADirectory, Assert.Throws<FileTreeException>(() => tree.Open("/", false)).Error);
        Assert.Equal(FileTreeError.ReadOnly, Assert.Throws<FileTreeException>(() => tree.Open("/disk.raw", true)).Error);
    }

    [Fact]
    public void Reads_past_the_end_are_short_and_writes_past_it_report_no_space()
    {
        var data = new byte[10_000];
        new Random(1).NextBytes(data);
        var tree = new BlockFileTree(new MemoryBlockDevice(data));
        using var file = tree.Open("/disk.raw", write: true);
        var buffer = new byte[4096];
        Assert.Equal(10_000 - 8192, file.Read(buffer, 8192));
        Assert.Equal(data.AsSpan(8192).ToArray(), buffer.AsSpan(0, 10_000 - 8192).ToArray());
        Assert.Equal(0, file.Read(buffer, 10_000));
        Assert.Equal(16, file.Write(new byte[100], 10_000 - 16));
        Assert.Equal(FileTreeError.NoSpace, Assert.Throws<FileTreeException>(() => file.Write(new byte[1], 10_000)).Error);
    }

    [Fact]
    public async Task Allocated_bytes_sum_data_extents_and_follow_writes_after_the_recount_interval()
    {
        var device = new SparseMemoryDevice(new byte[1 << 20]);
        device.Data[0] = 1;
        device.Data[(1 << 20) - 1] = 1;
        var tree = new BlockFileTree(device);
        await tree.AllocationCounted;
        Assert.Equal(2L * SparseMemoryDevice.Chunk, tree.Find("/disk.raw")!.AllocatedBytes);
        using var file = tree.Open("/disk.raw", write: true);
        file.Discard(0, SparseMemoryDevice.Chunk);
        await Task.Delay(AllocationCounter.RecountInterval + TimeSpan.FromMilliseconds(50));
        Assert.Equal(SparseMemoryDevice.Chunk, tree.Find("/disk.raw")!.AllocatedBytes);
    }

    [Fact]
    public async Task Allocated_bytes_are_the_whole_length_until_the_background_count_is_done_never_zero()
    {
        using var gate = new ManualResetEventSlim();
        var device = new SparseMemoryDevice(new byte[1 << 20]) { ExtentsGate = gate };
        device.Data[0] = 1;
        var tree = new BlockFileTree(device);
        // The count is held back: the file is reported fully allocated, and asking does not wait.
        Assert.Equal(1L << 20, tree.Find("/disk.raw")!.AllocatedBytes);
        Assert.False(tree.AllocationCounted.IsCompleted);
        gate.Set();
        await tree.AllocationCounted.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SparseMemoryDevice.Chunk, tree.Find("/disk.raw")!.AllocatedBytes);
    }

    [Fact]
    public void Seek_data_and_hole_walk_extents_and_treat_the_end_as_a_hole()
    {
        var device = new SparseMemoryDevice(new byte[1 << 20], writable: false);
        device.Data[3 * SparseMemoryDevice.Chunk + 5] = 7;
        Assert.Equal(3L * SparseMemoryDevice.Chunk, ExtentSeeker.SeekData(device, 0));
        Assert.Equal(3L * SparseMemoryDevice.Chunk + 2, ExtentSeeker.SeekData(device, 3L * SparseMemoryDevice.Chunk + 2));
        Assert.Equal(0, ExtentSeeker.SeekHole(device, 0));
        Assert.Equal(4L * SparseMemoryDevice.Chunk, ExtentSeeker.SeekHole(device, 3L * SparseMemoryDevice.Chunk));
        Assert.Equal(FileTreeError.NoData, Assert.Throws<FileTreeException>(() => ExtentSeeker.SeekData(device, 4L * SparseMemoryDevice.Chunk)).Error);
        Assert.Equal(FileTreeError.NoData, Assert.Throws<FileTreeException>(() => ExtentSeeker.SeekHole(device, 1 << 20)).Error);

        var full = new MemoryBlockDevice(new byte[4096]);
        Assert.Equal(4096, ExtentSeeker.SeekHole(full, 0));
    }

    [Fact]
    public void Flush_on_close_happens_only_after_a_write()
    {
        var device = new SparseMemoryDevice(new byte[65536]);
        var tree = new BlockFileTree(device);
        using var file = tree.Open("/disk.raw", write: true);
        file.FlushIfDirty();
        Assert.Equal(0, device.Flushes);
        file.Write(new byte[] { 1 }, 0);
        file.FlushIfDirty();
        file.FlushIfDirty();
        Assert.Equal(1, device.Flushes);
        file.Flush();
        Assert.Equal(2, device.Flushes);
    }

    [Theory]
    [InlineData(FileTreeError.NotFound, 2)]
    [InlineData(FileTreeError.ReadOnly, 30)]
    [InlineData(FileTreeError.NoData, 6)]
    [InlineData(FileTreeError.NoSpace, 28)]
    [InlineData(FileTreeError.IoError, 5)]
    [InlineData(FileTreeError.NotPermitted, 1)]
    public void Tree_errors_map_to_linux_errno(FileTreeError error, int errno) =>
        Assert.Equal(errno, ErrnoMapping.ToErrno(error));

    [Fact]
    public void Device_exceptions_are_classified_for_the_front_ends()
    {
        Assert.Equal(FileTreeError.ReadOnly, FileTreeErrors.Classify(new ReadOnlyDeviceException()));
        Assert.Equal(FileTreeError.InvalidArgument, FileTreeErrors.Classify(new ArgumentOutOfRangeException("offset")));
        Assert.Equal(FileTreeError.IoError, FileTreeErrors.Classify(new IOException("disk.vmdk: grain table out of bounds")));
    }

    [Theory]
    [InlineData(null, "/")]
    [InlineData("\\", "/")]
    [InlineData("\\disk.raw", "/disk.raw")]
    [InlineData("//a///b/", "/a/b")]
    public void Paths_from_either_platform_normalise_to_tree_form(string? input, string expected) =>
        Assert.Equal(expected, TreePath.Normalize(input));

    [Fact]
    public void Native_structures_have_the_sizes_of_libfuse_3_14()
    {
        // From sizeof/offsetof in C with FUSE_USE_VERSION 314 (see Native/FuseStructs.cs).
        Assert.Equal(336, Unsafe.SizeOf<FuseOperations>());
        Assert.Equal(FuseOperations.Count * IntPtr.Size, Unsafe.SizeOf<FuseOperations>());
        Assert.Equal(40, Unsafe.SizeOf<FuseFileInfo>());
        Assert.Equal(128, Unsafe.SizeOf<FuseConnInfo>());
        Assert.Equal(128, Unsafe.SizeOf<FuseConfig>());
        Assert.Equal(40, Unsafe.SizeOf<FuseContext>());
        Assert.Equal(24, Unsafe.SizeOf<FuseArgs>());
    }

    [Fact]
    public void Unix_modes_say_what_each_node_is_and_whether_it_is_writable()
    {
        var t = DateTimeOffset.UnixEpoch;
        Assert.Equal(0x8000u | 0x124u, UnixAttributes.Mode(new FileNode("f", NodeKind.RegularFile, 1, 1, false, t, 2)));
        Assert.Equal(0x8000u | 0x1A4u, UnixAttributes.Mode(new FileNode("f", NodeKind.RegularFile, 1, 1, true, t, 2)));
        Assert.Equal(0x4000u | 0x16Du, UnixAttributes.Mode(new FileNode("", NodeKind.Directory, 0, 0, false, t, 1)));
        Assert.Equal(3, UnixAttributes.Blocks(new FileNode("f", NodeKind.RegularFile, 4096, 1025, false, t, 2)));
    }
}
