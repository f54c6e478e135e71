using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Xfs;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// Read-only ext2, ext3 and ext4 over an <see cref="IBlockDevice"/>. The journal is not replayed:
/// a volume whose journal needs recovery is read as its blocks are on disk (<see cref="NeedsRecovery"/>).
/// Thread-safe: positional device reads, bounded locked caches. metadata_csum mismatches go to
/// the <see cref="ExtChecksumPolicy"/> (warn by default, or fail when strict).
/// </summary>
internal sealed class ExtFileSystem : IFileSystem
{
    private const uint RootInode = 2;
    private const int MaxSymlinkFollows = 40;
    private const int MaxSymlinkSize = 4096; // PATH_MAX
    private const int InodeCacheCapacity = 16384;
    private const long DirectoryCacheBytes = 16 << 20;

    private readonly IBlockDevice _device;
    private readonly bool _ownsDevice;
    private readonly ExtSuperblock _sb;
    private readonly ExtGroupTable _groups;
    private readonly ExtFileDataReader _data;
    private readonly ExtDirectoryReader _directories;
    private readonly ExtXattrReader _xattrs;
    private readonly BoundedCache<uint, ExtInode> _inodes = new(InodeCacheCapacity);
    private readonly ExtDirectoryCache _dirEntries = new(DirectoryCacheBytes);

    private readonly string _volumeName;

    private ExtFileSystem(IBlockDevice device, ExtSuperblock sb, ExtChecksumPolicy checksums, bool ownsDevice, string volumeName)
    {
        _device = device;
        _volumeName = volumeName;
        _ownsDevice = ownsDevice;
        _sb = sb;
        Checksums = checksums;
        if (!sb.SuperblockChecksumValid) checksums.Mismatch("ext superblock");
        var metadata = new ExtMetadataReader(device, sb);
        _groups = new ExtGroupTable(sb, metadata, checksums);
        _data = new ExtFileDataReader(sb, device, new ExtBlockMapper(sb, metadata, checksums));
        _directories = new ExtDirectoryReader(sb, _data, checksums);
        _xattrs = new ExtXattrReader(sb, metadata, checksums);
        var root = Named("/", () => ReadInode(RootInode));
        if (!root.IsDirectory) throw new FileSystemCorruptException($"{Where("/")}: ext root inode {RootInode} is not a directory");
        Root = MakeEntry("", "/", new ExtNode(root, null));
    }

    public string Kind => _sb.Kind;
    public string Label => _sb.Label;
    public FsEntry Root { get; }
    public int BlockSize => _sb.BlockSize;
    public ExtChecksumPolicy Checksums { get; }

    /// <summary>The journal holds transactions not yet written home; they are not replayed here (read-only).</summary>
    public bool NeedsRecovery => _sb.NeedsRecovery;

    public IReadOnlyList<string> Warnings => Checksums.Warnings;

    /// <param name="volumeName">Named with the path in every corruption error ("p3/vg0-root:/etc/passwd: ext inode 12: ..."), or empty.</param>
    public static ExtFileSystem Open(IBlockDevice device, ExtChecksumPolicy? checksums = null, bool ownsDevice = false, string volumeName = "")
    {
        if (device.Length < ExtSuperblock.Offset + ExtSuperblock.Size)
            throw new FileSystemCorruptException("ext superblock: the volume is smaller than 2 KiB");
        var raw = new byte[ExtSuperblock.Size];
        device.Read(raw, ExtSuperblock.Offset);
        return new ExtFileSystem(device, ExtSuperblock.Parse(raw, device.Length), checksums ?? new ExtChecksumPolicy(), ownsDevice, volumeName);
    }

    public IReadOnlyList<FsEntry> List(FsEntry directory) => Named(directory.Path, () => ListEntries(directory));

    public FsEntry? Lookup(string path) => Named(path, () => LookupPath(path));

    public int Read(FsEntry entry, Span<byte> buffer, long offset)
    {
        try { return ReadData(entry, buffer, offset); }
        catch (FileSystemCorruptException e) { throw Renamed(entry.Path, e); }
    }

    public string ReadLink(FsEntry entry) => Named(entry.Path, () => ReadLinkOf(entry));

    public IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry) => Named(entry.Path, () => AllocatedRanges(entry));

    /// <summary>
    /// Extended attributes (user.*, trusted.*, security.*, system.posix_acl_*) in on-disk order, as
    /// getxattr shows them: ACLs in the POSIX xattr format, the inline-data "system.data" left out.
    /// </summary>
    public IReadOnlyList<(string Name, byte[] Value)> GetExtendedAttributes(FsEntry entry) => Named(entry.Path, () => ExtendedAttributesOf(entry));

    private string Where(string path) => _volumeName.Length == 0 ? path : $"{_volumeName}:{path}";

    /// <summary>A corruption error names the volume and the path being read as well as the structure.</summary>
    private T Named<T>(string path, Func<T> read)
    {
        try { return read(); }
        catch (FileSystemCorruptException e) { throw Renamed(path, e); }
    }

    private FileSystemCorruptException Renamed(string path, FileSystemCorruptException e) =>
        e.Message.StartsWith(Where(path) + ":", StringComparison.Ordinal) ? e : new FileSystemCorruptException($"{Where(path)}: {e.Message}");

    private List<FsEntry> ListEntries(FsEntry directory)
    {
        var node = Resolve(directory);
        if (!node.Inode.IsDirectory) throw new IOException($"{directory.Path}: not a directory");
        string prefix = directory.Path.EndsWith('/') ? directory.Path : directory.Path + "/";
        var result = new List<FsEntry>();
        foreach (var e in ReadEntries(node.Inode))
        {
            var child = ReadInode(e.Inode);
            if (child.IsDirectory)
                for (var a = node; a != null; a = a.Parent)
                    if (a.Inode.Number == child.Number)
                        throw new FileSystemCorruptException($"ext directory inode {node.Inode.Number}: entry '{e.Name}' loops back to ancestor inode {child.Number}");
            result.Add(MakeEntry(e.Name, prefix + e.Name, new ExtNode(child, node)));
        }
        return result;
    }

    private FsEntry? LookupPath(string path)
    {
        var components = new Queue<string>(Split(path));
        var stack = new List<(string Name, ExtNode Node)>();
        var root = (ExtNode)Root.Native!;
        int follows = 0;
        while (components.Count > 0)
        {
            string name = components.Dequeue();
            if (name == ".") continue;
            if (name == "..") { if (stack.Count > 0) stack.RemoveAt(stack.Count - 1); continue; }
            var current = stack.Count > 0 ? stack[^1].Node : root;
            if (!current.Inode.IsDirectory) return null;
            uint? ino = null;
            foreach (var e in ReadEntries(current.Inode))
                if (e.Name == name) { ino = e.Inode; break; }
            if (ino == null) return null;
            var child = new ExtNode(ReadInode(ino.Value), current);
            if (child.Inode.IsSymlink && components.Count > 0)
            {
                if (++follows > MaxSymlinkFollows) throw new IOException($"{path}: too many levels of symbolic links");
                string target = ReadLinkTarget(child.Inode);
                var rest = components.ToArray();
                components.Clear();
                if (target.StartsWith('/')) stack.Clear();
                foreach (var c in Split(target)) components.Enqueue(c);
                foreach (var c in rest) components.Enqueue(c);
                continue;
            }
            stack.Add((name, child));
        }
        if (stack.Count == 0) return Root;
        return MakeEntry(stack[^1].Name, "/" + string.Join('/', stack.Select(s => s.Name)), stack[^1].Node);
    }

    private int ReadData(FsEntry entry, Span<byte> buffer, long offset)
    {
        var inode = Resolve(entry).Inode;
        if (inode.IsDirectory) throw new IOException($"{entry.Path}: is a directory");
        if (!inode.IsRegular) return 0;
        if (inode.HasInlineData) return ReadInline(inode, buffer, offset);
        return _data.Read(inode, buffer, offset);
    }

    private string ReadLinkOf(FsEntry entry)
    {
        var inode = Resolve(entry).Inode;
        if (!inode.IsSymlink) throw new IOException($"{entry.Path}: not a symbolic link");
        return ReadLinkTarget(inode);
    }

    private List<(long Offset, long Length)>? AllocatedRanges(FsEntry entry)
    {
        var inode = Resolve(entry).Inode;
        if (!inode.IsRegular || inode.HasInlineData) return null;
        var ranges = new List<(long Offset, long Length)>();
        foreach (var r in _data.GetRuns(inode))
        {
            if (r.Unwritten) continue;
            long start = (long)(r.FileBlock << _sb.BlockLog);
            if (start >= inode.Size) break;
            long end = Math.Min(inode.Size, (long)(r.FileBlockEnd << _sb.BlockLog));
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == start) ranges[^1] = (ranges[^1].Offset, end - ranges[^1].Offset);
            else ranges.Add((start, end - start));
        }
        return ranges;
    }

    private List<(string Name, byte[] Value)> ExtendedAttributesOf(FsEntry entry)
    {
        var inode = Resolve(entry).Inode;
        var result = new List<(string Name, byte[] Value)>();
        foreach (var (name, value) in Xattrs(inode))
        {
            if (name == "system.data") continue;
            result.Add(name.StartsWith("system.posix_acl_", StringComparison.Ordinal)
                ? (name, ExtXattrReader.ToPosixAcl(value, $"ext inode {inode.Number} {name}")) : (name, value));
        }
        return result;
    }

    public void Dispose()
    {
        if (_ownsDevice) _device.Dispose();
    }

    private List<(string Name, byte[] Value)> Xattrs(ExtInode inode) => _xattrs.Read(inode, ReadEaInodeValue);

    private byte[] ReadEaInodeValue(uint ino, int size)
    {
        var inode = ReadInode(ino);
        if ((inode.Flags & ExtInode.FlagEaInode) == 0 || inode.Size != size)
            throw new FileSystemCorruptException($"ext inode {ino}: not an xattr value inode of {size} bytes");
        var value = new byte[size];
        if (_data.Read(inode, value, 0) != size) throw new FileSystemCorruptException($"ext inode {ino}: xattr value is short");
        return value;
    }

    /// <summary>Inline data: the first 60 bytes in i_block, the rest in the "system.data" xattr.</summary>
    private int ReadInline(ExtInode inode, Span<byte> buffer, long offset)
    {
        if (offset >= inode.Size) return 0;
        var content = InlineContent(inode);
        if (content.Length < inode.Size) throw new FileSystemCorruptException($"ext inode {inode.Number}: inline data holds {content.Length} of {inode.Size} bytes");
        int n = (int)Math.Min(buffer.Length, inode.Size - offset);
        content.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    private byte[] InlineContent(ExtInode inode)
    {
        byte[]? more = InlineContinuation(inode);
        var all = new byte[ExtInode.BlockArraySize + (more?.Length ?? 0)];
        inode.BlockArray.CopyTo(all);
        more?.CopyTo(all, ExtInode.BlockArraySize);
        return all;
    }

    private byte[]? InlineContinuation(ExtInode inode)
    {
        foreach (var (name, value) in Xattrs(inode))
            if (name == "system.data") return value;
        return null;
    }

    private string ReadLinkTarget(ExtInode inode)
    {
        if (inode.Size > MaxSymlinkSize) throw new FileSystemCorruptException($"ext inode {inode.Number}: symlink target of {inode.Size} bytes is longer than {MaxSymlinkSize}");
        byte[] target = new byte[inode.Size];
        if (inode.HasInlineData)
        {
            var content = InlineContent(inode);
            if (content.Length < target.Length) throw new FileSystemCorruptException($"ext inode {inode.Number}: inline symlink target is short");
            content.AsSpan(0, target.Length).CopyTo(target);
        }
        else if (IsFastSymlink(inode)) inode.BlockArray[..(int)inode.Size].CopyTo(target);
        else if (_data.Read(inode, target, 0) != target.Length) throw new FileSystemCorruptException($"ext inode {inode.Number}: symlink target is short");
        return System.Text.Encoding.UTF8.GetString(target);
    }

    /// <summary>A target under 60 bytes kept in i_block itself: no blocks besides an xattr block (kernel ext4_inode_is_fast_symlink).</summary>
    private bool IsFastSymlink(ExtInode inode)
    {
        if (inode.HasExtents || inode.Size >= ExtInode.BlockArraySize) return false;
        ulong eaBlocks = inode.FileAcl != 0 ? (ulong)(_sb.BlockSize >> 9) : 0;
        return inode.BlockCount512 - eaBlocks == 0 || inode.BlockCount512 == 0;
    }

    private ExtNode Resolve(FsEntry entry) =>
        entry.Native as ExtNode
        ?? Lookup(entry.Path)?.Native as ExtNode
        ?? throw new FileNotFoundException($"{entry.Path}: no such file in the ext file system");

    private ExtInode ReadInode(uint ino)
    {
        if (_inodes.TryGet(ino, out var cached)) return cached!;
        long offset = _groups.InodeOffset(ino);
        if (offset > _device.Length - _sb.InodeSize) throw new FileSystemCorruptException($"ext inode {ino}: lies beyond the end of the volume");
        var raw = new byte[_sb.InodeSize];
        _device.Read(raw, offset);
        var inode = ExtInode.Parse(raw, ino, _sb, Checksums);
        if (inode.LinkCount == 0 && inode.Mode == 0)
            throw new FileSystemCorruptException($"ext inode {ino}: a directory entry names an unused inode");
        _inodes.Add(ino, inode);
        return inode;
    }

    private List<ExtDirEntry> ReadEntries(ExtInode dir)
    {
        if (_dirEntries.TryGet(dir.Number, out var cached)) return cached!;
        var entries = _directories.Read(dir, dir.HasInlineData ? InlineContinuation(dir) : null);
        _dirEntries.Add(dir.Number, entries);
        return entries;
    }

    private static string[] Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private FsEntry MakeEntry(string name, string path, ExtNode node)
    {
        var i = node.Inode;
        return new FsEntry
        {
            Name = name, Path = path, Type = i.EntryType, Size = i.IsRegular || i.IsSymlink || i.IsDirectory ? i.Size : 0, Id = i.Number,
            ModifiedTime = i.ModifiedTime, AccessTime = i.AccessTime, ChangeTime = i.ChangeTime, CreationTime = i.CreationTime,
            Mode = i.Mode, Uid = i.Uid, Gid = i.Gid, LinkCount = i.LinkCount, Native = node,
        };
    }

    /// <summary>An inode reached through a chain of directories (the chain lets List detect loops).</summary>
    private sealed record ExtNode(ExtInode Inode, ExtNode? Parent);
}
