using System.Runtime.CompilerServices;
using MountChain.Core.BlockDevices;
using MountChain.Dokan.Hosting;
using MountChain.Dokan.Native;
using MountChain.Mounting.BlockFile;
using MountChain.Mounting.Trees;

namespace MountChain.Tests.Fuse;

/// <summary>The Dokan front-end's managed rules (it only runs on Windows; its logic is checked here).</summary>
public sealed class DokanLogicTests
{
    private const uint ReadData = 0x1;
    private static readonly FileNode Disk = new("disk.raw", NodeKind.RegularFile, 1 << 20, 1 << 19, false, DateTimeOffset.UnixEpoch, 2);
    private static readonly FileNode Root = new("", NodeKind.Directory, 0, 0, false, DateTimeOffset.UnixEpoch, 1);

    [Fact]
    public void Opening_disk_raw_for_reading_succeeds_and_opening_it_for_writing_on_a_read_only_tree_is_write_protected()
    {
        var read = CreateRequest.Decide(Disk, false, ReadData, CreateRequest.Open, CreateRequest.NonDirectoryFile);
        Assert.True(read.Succeeded);
        Assert.True(read.OpenFile);
        Assert.False(read.ForWrite);
        var write = CreateRequest.Decide(Disk, false, CreateRequest.GenericWrite, CreateRequest.Open, 0);
        Assert.False(write.Succeeded);
        Assert.Equal(NtStatus.MediaWriteProtected, write.Status);
    }

    [Fact]
    public void Nothing_can_be_created_overwritten_or_deleted()
    {
        Assert.Equal(NtStatus.MediaWriteProtected, CreateRequest.Decide(null, false, ReadData, CreateRequest.Create, 0).Status);
        Assert.Equal(NtStatus.AccessDenied, CreateRequest.Decide(null, true, ReadData, CreateRequest.OpenIf, 0).Status);
        Assert.Equal(NtStatus.ObjectNameNotFound, CreateRequest.Decide(null, true, ReadData, CreateRequest.Open, 0).Status);
        var collision = CreateRequest.Decide(Disk with { Writable = true }, true, ReadData, CreateRequest.Create, 0);
        Assert.False(collision.Succeeded);
        Assert.Equal(NtStatus.ObjectNameCollision, collision.Status);
        Assert.Equal(NtStatus.AccessDenied, CreateRequest.Decide(Disk with { Writable = true }, true, ReadData, CreateRequest.OverwriteIf, 0).Status);
        Assert.Equal(NtStatus.AccessDenied, CreateRequest.Decide(Disk with { Writable = true }, true, CreateRequest.Delete, CreateRequest.Open, 0).Status);
    }

    [Fact]
    public void Directory_options_must_match_the_node_and_open_if_on_an_existing_node_reports_collision_success()
    {
        Assert.Equal(NtStatus.NotADirectory, CreateRequest.Decide(Disk, false, ReadData, CreateRequest.Open, CreateRequest.DirectoryFile).Status);
        Assert.Equal(NtStatus.FileIsADirectory, CreateRequest.Decide(Root, false, ReadData, CreateRequest.Open, CreateRequest.NonDirectoryFile).Status);
        var dir = CreateRequest.Decide(Root, false, ReadData, CreateRequest.OpenIf, 0);
        Assert.True(dir.Succeeded);
        Assert.True(dir.IsDirectory);
        Assert.Equal(NtStatus.ObjectNameCollision, dir.Status);
    }

    [Fact]
    public void Handler_reads_disk_raw_through_the_shared_tree_and_maps_errors_to_ntstatus()
    {
        var data = new byte[8192];
        new Random(3).NextBytes(data);
        var handler = new DokanRequestHandler(new BlockFileTree(new MemoryBlockDevice(data, writable: false)));
        var decision = handler.Create("\\disk.raw", ReadData, CreateRequest.Open, 0, out var file);
        Assert.True(decision.Succeeded);
        var buffer = new byte[4096];
        Assert.Equal(NtStatus.Success, handler.Read(file!, buffer, 6144, out int n));
        Assert.Equal(2048, n);
        Assert.Equal(data.AsSpan(6144).ToArray(), buffer.AsSpan(0, 2048).ToArray());
        Assert.Equal(NtStatus.MediaWriteProtected, handler.Write(file!, buffer, 0, false, out _));
        Assert.Equal(NtStatus.ObjectNameNotFound, handler.GetInformation("\\nope", null, out _));
        Assert.Equal(NtStatus.Success, handler.Resize("\\disk.raw", file, 8192));
        Assert.Equal(NtStatus.MediaWriteProtected, handler.Resize("\\disk.raw", file, 4096));
    }

    [Fact]
    public void Windows_attributes_mark_read_only_and_sparse_files()
    {
        Assert.Equal(WindowsAttributes.ReadOnly | WindowsAttributes.SparseFile, WindowsAttributes.Of(Disk));
        Assert.Equal(WindowsAttributes.Normal, WindowsAttributes.Of(Disk with { Writable = true, AllocatedBytes = Disk.Size }));
        Assert.Equal(WindowsAttributes.Directory, WindowsAttributes.Of(Root));
        Assert.Equal(116444736000000000L, WindowsAttributes.FileTime(Root)); // 1970-01-01 as FILETIME
        Assert.Equal(1u, WindowsAttributes.High(0x1_0000_0002));
        Assert.Equal(2u, WindowsAttributes.Low(0x1_0000_0002));
    }

    [Fact]
    public void Dokan_structures_have_the_sizes_of_dokan_h()
    {
        Assert.Equal(48 + 16 * 1024, Unsafe.SizeOf<DokanOptions>());
        Assert.Equal(48, Unsafe.SizeOf<DokanFileInfo>());
        Assert.Equal(DokanOperations.Count * IntPtr.Size, Unsafe.SizeOf<DokanOperations>());
        Assert.Equal(52, Unsafe.SizeOf<ByHandleFileInformation>());
        Assert.Equal(592, Unsafe.SizeOf<Win32FindData>());
    }
}
