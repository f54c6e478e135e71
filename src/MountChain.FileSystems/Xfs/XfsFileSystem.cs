using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// Read-only XFS (v4 and v5 superblocks) over an <see cref="IBlockDevice"/>. Thread-safe: all device
/// access is positional, caches are bounded and locked. Every on-disk count, offset and pointer is
/// checked; inconsistencies raise <see cref="FileSystemCorruptException"/>.
/// </summary>
internal sealed class XfsFileSystem : IFileSystem
{
    private const int MaxSymlinkFollows = 40; // as Linux MAXSYMLINKS
    private const int InodeCacheCapacity = 16384;
    private const int DirectoryCacheCapacity = 256;

    private readonly IBlockDevice _device;
    private readonly bool _ownsDevice;
    private readonly XfsSuperblock _sb;
    private readonly XfsMetadataReader _metadata;
    private readonly XfsFileDataReader _data;
    private readonly XfsDirectoryReader _directories;
    private readonly XfsSymlinkReader _symlinks;
    private readonly BoundedCache<ulong, XfsInode> _inodes = new(InodeCacheCapacity);
    private readonly BoundedCache<ulong, IReadOnlyList<XfsDirEntry>> _dirEntries = new(DirectoryCacheCapacity);

    private XfsFileSystem(IBlockDevice device, XfsSuperblock sb, bool ownsDevice)
    {
        _device = device;
        _ownsDevice = ownsDevice;
        _sb = sb;
        _metadata = new XfsMetadataReader(device, sb.BlockSize);
        _data = new XfsFileDataReader(sb, device, new XfsBlockMapReader(sb, _metadata));
        _directories = new XfsDirectoryReader(sb, _data);
        _symlinks = new XfsSymlinkReader(sb, _metadata, _data);

        var rootInode = ReadInode(sb.RootIno);
        if (!rootInode.IsDirectory) throw new FileSystemCorruptException($"XFS root inode {sb.RootIno} is not a directory");
        Root = MakeEntry("", "/", new XfsNode(rootInode, null));
    }

    public string Kind => "xfs";
    public string Label => _sb.Label;
    public FsEntry Root { get; }

    /// <summary>Superblock version (4 or 5).</summary>
    public int Version => _sb.Version;
    public int BlockSize => _sb.BlockSize;

    /// <summary>True when the first sector carries an XFS primary superblock signature.</summary>
    public static bool Probe(ReadOnlySpan<byte> firstSector) => XfsSuperblock.Probe(firstSector);

    /// <summary>Opens the file system; null when the device does not start with an XFS superblock. A damaged XFS still throws.</summary>
    public static XfsFileSystem? TryOpen(IBlockDevice device, bool ownsDevice = false)
    {
        if (device.Length < 512) return null;
        Span<byte> sector = stackalloc byte[512];
        device.Read(sector, 0);
        return Probe(sector) ? Open(device, ownsDevice) : null;
    }

    /// <summary>Opens the file system or throws <see cref="FileSystemCorruptException"/>.</summary>
    public static XfsFileSystem Open(IBlockDevice device, bool ownsDevice = false)
    {
        if (device.Length < 512) throw new FileSystemCorruptException("XFS superblock: device is smaller than one sector");
        byte[] first = new byte[512];
        device.Read(first, 0);
        if (!Probe(first)) throw new FileSystemCorruptException("XFS superblock: no XFS signature at offset 0");
        int sectorSize = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(first.AsSpan(102));
        if (sectorSize > 512 && sectorSize <= 32768 && sectorSize <= device.Length)
        {
            first = new byte[sectorSize];
            device.Read(first, 0);
        }
        return new XfsFileSystem(device, XfsSuperblock.Parse(first, device.Length), ownsDevice);
    }

    public IReadOnlyList<FsEntry> List(FsEntry directory)
    {
        var node = Resolve(directory);
        if (!node.Inode.IsDirectory) throw new IOException($"{directory.Path}: not a directory");
        var result = new List<FsEntry>();
        string prefix = directory.Path.EndsWith('/') ? directory.Path : directory.Path + "/";
        foreach (var e in ReadEntries(node.Inode))
        {
            var child = ReadInode(e.Inode);
            if (child.IsDirectory)
            {
                for (var ancestor = node; ancestor != null; ancestor = ancestor.Parent)
                    if (ancestor.Inode.Number == child.Number)
                        throw new FileSystemCorruptException($"XFS directory inode {node.Inode.Number}: entry '{e.Name}' loops back to ancestor inode {child.Number}");
            }
            result.Add(MakeEntry(e.Name, prefix + e.Name, new XfsNode(child, node)));
        }
        return result;
    }

    public FsEntry? Lookup(string path)
    {
        var components = new Queue<string>(SplitPath(path));
        var stack = new List<(string Name, XfsNode Node)>();
        var root = (XfsNode)Root.Native!;
        int follows = 0;
        while (components.Count > 0)
        {
            string name = components.Dequeue();
            if (name == ".") continue;
            if (name == "..")
            {
                if (stack.Count > 0) stack.RemoveAt(stack.Count - 1);
                continue;
            }
            var current = stack.Count > 0 ? stack[^1].Node : root;
            if (!current.Inode.IsDirectory) return null;
            ulong? ino = FindEntry(current.Inode, name);
            if (ino == null) return null;
            var child = new XfsNode(ReadInode(ino.Value), current);
            if (child.Inode.IsSymlink && components.Count > 0)
            {
                if (++follows > MaxSymlinkFollows) throw new IOException($"{path}: too many levels of symbolic links");
                string target = _symlinks.Read(child.Inode);
                var rest = components.ToArray();
                components.Clear();
                if (target.StartsWith('/')) stack.Clear();
                foreach (var c in SplitPath(target)) components.Enqueue(c);
                foreach (var c in rest) components.Enqueue(c);
                continue;
            }
            stack.Add((name, child));
        }
        if (stack.Count == 0) return Root;
        string fullPath = "/" + string.Join('/', stack.Select(s => s.Name));
        return MakeEntry(stack[^1].Name, fullPath, stack[^1].Node);
    }

    public int Read(FsEntry entry, Span<byte> buffer, long offset)
    {
        var inode = Resolve(entry).Inode;
        if (inode.IsDirectory) throw new IOException($"{entry.Path}: is a directory");
        if (!inode.IsRegular) return 0;
        if (inode.IsRealtime) throw new FileSystemUnsupportedException($"{entry.Path}: files on an XFS realtime device are not supported (XFS inode {inode.Number})");
        switch (inode.Format)
        {
            case XfsForkFormat.Extents or XfsForkFormat.Btree:
                return _data.Read(inode, buffer, offset, inode.Size);
            case XfsForkFormat.Local:
                if (inode.Size > inode.DataFork.Length) throw new FileSystemCorruptException($"XFS inode {inode.Number}: inline size {inode.Size} exceeds the data fork");
                if (offset >= inode.Size) return 0;
                int n = (int)Math.Min(buffer.Length, inode.Size - offset);
                inode.DataFork.AsSpan((int)offset, n).CopyTo(buffer);
                return n;
            default:
                throw new FileSystemCorruptException($"XFS inode {inode.Number}: regular file with data fork format {inode.Format}");
        }
    }

    public string ReadLink(FsEntry entry)
    {
        var inode = Resolve(entry).Inode;
        if (!inode.IsSymlink) throw new IOException($"{entry.Path}: not a symbolic link");
        return _symlinks.Read(inode);
    }

    public IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry)
    {
        var inode = Resolve(entry).Inode;
        if (!inode.IsRegular || inode.Format is not (XfsForkFormat.Extents or XfsForkFormat.Btree)) return null;
        var ranges = new List<(long Offset, long Length)>();
        foreach (var e in _data.GetExtents(inode))
        {
            if (e.Unwritten) continue;
            long start = (long)(e.FileBlock << _sb.BlockLog);
            if (start >= inode.Size) break;
            long end = Math.Min(inode.Size, (long)(e.FileBlockEnd << _sb.BlockLog));
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == start)
                ranges[^1] = (ranges[^1].Offset, end - ranges[^1].Offset);
            else
                ranges.Add((start, end - start));
        }
        return ranges;
    }

    public void Dispose()
    {
        if (_ownsDevice) _device.Dispose();
    }

    private XfsNode Resolve(FsEntry entry) =>
        entry.Native as XfsNode
        ?? Lookup(entry.Path)?.Native as XfsNode
        ?? throw new FileNotFoundException($"{entry.Path}: no such file in the XFS file system");

    private XfsInode ReadInode(ulong ino)
    {
        if (_inodes.TryGet(ino, out var cached)) return cached!;
        if (!_sb.TryGetInodeAddress(ino, out long offset))
            throw new FileSystemCorruptException($"XFS inode {ino}: number lies outside the file system");
        long blockOffset = offset & ~((long)_sb.BlockSize - 1);
        byte[] block = _metadata.ReadBlock(blockOffset);
        var inode = XfsInode.Parse(block.AsSpan((int)(offset - blockOffset), _sb.InodeSize), ino, _sb);
        _inodes.Add(ino, inode);
        return inode;
    }

    private IReadOnlyList<XfsDirEntry> ReadEntries(XfsInode dir)
    {
        if (_dirEntries.TryGet(dir.Number, out var cached)) return cached!;
        var entries = _directories.Read(dir);
        _dirEntries.Add(dir.Number, entries);
        return entries;
    }

    private ulong? FindEntry(XfsInode dir, string name)
    {
        foreach (var e in ReadEntries(dir))
            if (e.Name == name) return e.Inode;
        return null;
    }

    private static string[] SplitPath(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private static FsEntry MakeEntry(string name, string path, XfsNode node)
    {
        var i = node.Inode;
        return new FsEntry
        {
            Name = name, Path = path, Type = i.EntryType, Size = i.Size, Id = i.Number,
            ModifiedTime = i.ModifiedTime, AccessTime = i.AccessTime, ChangeTime = i.ChangeTime, CreationTime = i.CreationTime,
            Mode = i.Mode, Uid = i.Uid, Gid = i.Gid, LinkCount = i.LinkCount, Native = node,
        };
    }

    /// <summary>An inode reached through a chain of directories (the chain lets List detect directory loops).</summary>
    private sealed record XfsNode(XfsInode Inode, XfsNode? Parent);
}
