using System.Reflection;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Operations;

namespace MountChain.Tests.Fuzz;

/// <summary>The wrapper that names volume and path in file-system errors forwards everything and renames only input errors.</summary>
public sealed class VolumeErrorNamingTests
{
    [Fact]
    public void Every_file_system_member_is_forwarded_not_left_to_its_default()
    {
        var map = typeof(VolumeErrorNaming).GetInterfaceMap(typeof(IFileSystem));
        var notForwarded = map.TargetMethods.Where(m => m.DeclaringType != typeof(VolumeErrorNaming)).Select(m => m.Name).ToList();
        Assert.Empty(notForwarded);
    }

    [Fact]
    public void Errors_get_volume_and_path_and_keep_their_type()
    {
        var fs = new VolumeErrorNaming(new FailingFileSystem(), "p2");
        var entry = new FsEntry { Name = "f", Path = "/dir/f", Type = FsEntryType.File };
        var corrupt = Assert.Throws<FileSystemCorruptException>(() => fs.Read(entry, new byte[1], 0));
        Assert.Equal("p2:/dir/f: XFS inode 7: bad", corrupt.Message);
        var unsupported = Assert.Throws<FileSystemUnsupportedException>(() => fs.List(entry));
        Assert.Equal("p2:/dir/f: realtime", unsupported.Message);
        // Already naming the path: only the volume is added. Not found stays what it is (ENOENT in mounts).
        Assert.Equal("p2: /x: too many levels", Assert.Throws<IOException>(() => fs.Lookup("/x")).Message);
        Assert.IsType<FileNotFoundException>(Assert.ThrowsAny<IOException>(() => fs.ReadLink(entry)));
        // Bugs stay bugs: no renaming into an input error.
        Assert.Throws<ArgumentOutOfRangeException>(() => fs.GetAllocatedRanges(entry));
    }

    private sealed class FailingFileSystem : IFileSystem
    {
        public string Kind => "test";
        public string Label => "";
        public FsEntry Root => throw new NotImplementedException();
        public IReadOnlyList<FsEntry> List(FsEntry directory) => throw new FileSystemUnsupportedException("realtime");
        public FsEntry? Lookup(string path) => throw new IOException($"{path}: too many levels");
        public int Read(FsEntry entry, Span<byte> buffer, long offset) => throw new FileSystemCorruptException("XFS inode 7: bad");
        public string ReadLink(FsEntry entry) => throw new FileNotFoundException("gone");
        public IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry) => throw new ArgumentOutOfRangeException(nameof(entry));
        public void Dispose() { }
    }
}
