using MountChain.Core.BlockDevices;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.BlockFile;

/// <summary>
/// A directory holding one regular file, <c>disk.raw</c>, whose bytes are the device's (like
/// qemu-storage-daemon's FUSE export, but as a directory so that more files can join later).
/// The file cannot be created, deleted, renamed or resized; it is writable only when the device is.
/// </summary>
public sealed class BlockFileTree : IFileTree
{
    public const string DefaultFileName = "disk.raw";
    private const long RootId = 1;
    private const long FileId = 2;
    /// <summary>The block size statfs reports; the loop driver and mkfs only use it as a hint.</summary>
    private const int VolumeBlockSize = 4096;

    private readonly IBlockDevice _device;
    private readonly AllocationCounter _allocation;
    private readonly DateTimeOffset _modified;
    private readonly string _filePath;
    private int _dirty;

    public BlockFileTree(IBlockDevice device, string fileName = DefaultFileName, DateTimeOffset? modified = null)
    {
        _device = device;
        FileName = fileName;
        _filePath = TreePath.Combine(TreePath.Root, fileName);
        _allocation = new AllocationCounter(device);
        _modified = modified ?? DateTimeOffset.UtcNow;
    }

    public string FileName { get; }
    public IBlockDevice Device => _device;
    public bool CanWrite => _device.CanWrite;

    /// <summary>Starts counting st_blocks if nothing asked yet; completes once it is the counted allocation, not the upper bound it starts at.</summary>
    internal Task AllocationCounted => _allocation.FirstCount;

    public VolumeInfo Volume => new("mountchain", RoundUp(_device.Length, VolumeBlockSize), 0, VolumeBlockSize, 1);

    public FileNode? Find(string path) => TreePath.Normalize(path) switch
    {
        TreePath.Root => RootNode,
        var p when p == _filePath => FileNode,
        _ => null,
    };

    public IReadOnlyList<FileNode> List(string path)
    {
        var p = TreePath.Normalize(path);
        if (p == _filePath) throw new FileTreeException(FileTreeError.NotADirectory, $"{p} is not a directory");
        if (p != TreePath.Root) throw new FileTreeException(FileTreeError.NotFound, $"{p}: no such directory");
        return [FileNode];
    }

    public IOpenFile Open(string path, bool write)
    {
        var p = TreePath.Normalize(path);
        if (p == TreePath.Root) throw new FileTreeException(FileTreeError.IsADirectory, "/ is a directory");
        if (p != _filePath) throw new FileTreeException(FileTreeError.NotFound, $"{p}: no such file");
        if (write && !CanWrite) throw new FileTreeException(FileTreeError.ReadOnly, "the disk is mounted read-only");
        return new BlockFileHandle(this, write);
    }

    public string ReadLink(string path) => Find(path) is null
        ? throw new FileTreeException(FileTreeError.NotFound, $"{path}: no such file")
        : throw new FileTreeException(FileTreeError.InvalidArgument, $"{path} is not a symbolic link");

    internal FileNode RootNode => new("", NodeKind.Directory, 0, 0, CanWrite, _modified, RootId);

    internal FileNode FileNode => new(FileName, NodeKind.RegularFile, _device.Length, _allocation.AllocatedBytes,
        CanWrite, _modified, FileId);

    /// <summary>Every change goes through here so allocation and the flush-on-close flag stay right.</summary>
    internal void NoteChanged()
    {
        _allocation.MarkStale();
        Volatile.Write(ref _dirty, 1);
    }

    internal void Flush()
    {
        Volatile.Write(ref _dirty, 0);
        _device.Flush();
    }

    internal void FlushIfDirty()
    {
        if (Interlocked.Exchange(ref _dirty, 0) != 0) _device.Flush();
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
