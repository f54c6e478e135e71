using MountChain.FileSystems.Common;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.FileTree;

/// <summary>
/// A read-only tree of a disk's files, read through our own file-system readers (no kernel file
/// system, loop device or root-only driver): "/" lists one folder "pK" per readable partition, and
/// "/pK/..." is that partition's tree. Paths resolve to entries through a bounded path cache that
/// directory listings fill, so the lookups the kernel sends after a readdir cost no directory scan.
/// NTFS alternate data streams are not listed (a file's tree entry is its main stream, as on
/// ntfs-3g); a stream can still be opened by its explicit name "file:stream".
/// </summary>
public sealed class FileSystemTree : IFileTree, IDisposable
{
    public const int DefaultCacheCapacity = 65536;
    private const long RootId = 1;
    /// <summary>The block size statfs reports.</summary>
    private const int VolumeBlockSize = 4096;

    private readonly Dictionary<string, VolumeFolder> _folders;
    /// <summary>"pK" folders that hold LVM2 logical volumes ("pK/VG-LV") rather than a file system.</summary>
    private readonly Dictionary<string, List<VolumeFolder>> _groups;
    private readonly BoundedCache<string, TreeEntry> _entries;
    private readonly DateTimeOffset _created;
    private int _disposed;

    /// <summary>What a path under "pK" resolved to: the reader's entry, its node, and its file system.</summary>
    internal sealed record TreeEntry(VolumeFolder Folder, FsEntry Entry, FileNode Node);

    /// <param name="folders">The volumes to show, owned by the tree from now on.</param>
    /// <param name="created">Time shown for "/" itself.</param>
    public FileSystemTree(IEnumerable<VolumeFolder> folders, DateTimeOffset created, int cacheCapacity = DefaultCacheCapacity)
    {
        Folders = folders.OrderBy(f => f.PartitionNumber).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();
        _folders = Folders.ToDictionary(f => f.Name, StringComparer.Ordinal);
        _groups = Folders.Where(f => f.LogicalVolume != null).GroupBy(f => f.TopName)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        _entries = new BoundedCache<string, TreeEntry>(cacheCapacity, StringComparer.Ordinal);
        _created = created;
    }

    public IReadOnlyList<VolumeFolder> Folders { get; }
    public bool CanWrite => false;

    /// <summary>Paths resolved so far that are still cached (for tests and diagnostics).</summary>
    public int CachedEntries => _entries.Count;

    public VolumeInfo Volume => new("mountchain", Folders.Sum(f => f.Length), 0, VolumeBlockSize, 0);

    private FileNode RootNode => new("", NodeKind.Directory, 0, 0, false, _created, RootId) { UnixMode = EntryNodes.NtfsDirectoryMode };

    public FileNode? Find(string path)
    {
        var p = TreePath.Normalize(path);
        if (p == TreePath.Root) return RootNode;
        if (_groups.ContainsKey(p[1..])) return GroupNode(p[1..]);
        return Resolve(p)?.Node;
    }

    /// <summary>The folder "pK" of an LVM2 PV partition: a plain read-only directory of its LVs.</summary>
    private FileNode GroupNode(string name) =>
        new(name, NodeKind.Directory, 0, 0, false, _created, EntryNodes.NodeId(_groups[name][0].PartitionNumber, 0) | 1) { UnixMode = EntryNodes.NtfsDirectoryMode };

    public IReadOnlyList<FileNode> List(string path)
    {
        var p = TreePath.Normalize(path);
        if (p == TreePath.Root)
            return Folders.Where(f => f.LogicalVolume == null).Select(f => FolderEntry(f).Node)
                .Concat(_groups.Keys.Select(GroupNode)).ToList();
        if (_groups.TryGetValue(p[1..], out var lvs))
            return lvs.Select(f => FolderEntry(f).Node with { Name = f.LogicalVolume! }).ToList();
        var directory = Resolve(p) ?? throw new FileTreeException(FileTreeError.NotFound, $"{p}: no such directory");
        if (directory.Node.Kind != NodeKind.Directory) throw new FileTreeException(FileTreeError.NotADirectory, $"{p} is not a directory");
        var fs = directory.Folder.FileSystem;
        var result = new List<FileNode>();
        foreach (var child in fs.List(directory.Entry))
        {
            // Streams live behind their file; names a POSIX path cannot carry are left out.
            if (child.StreamName != null || !IsShowableName(child.Name)) continue;
            var entry = new TreeEntry(directory.Folder, child, EntryNodes.ToNode(fs, child, child.Name, directory.Folder.NodeSpace));
            _entries.Set(TreePath.Combine(p, child.Name), entry);
            result.Add(entry.Node);
        }
        return result;
    }

    public IOpenFile Open(string path, bool write)
    {
        var p = TreePath.Normalize(path);
        if (write) throw new FileTreeException(FileTreeError.ReadOnly, "the file tree is read-only");
        if (p == TreePath.Root) throw new FileTreeException(FileTreeError.IsADirectory, "/ is a directory");
        var entry = Resolve(p) ?? throw new FileTreeException(FileTreeError.NotFound, $"{p}: no such file");
        return entry.Node.Kind switch
        {
            NodeKind.RegularFile => new FileSystemFile(entry.Folder.FileSystem, entry.Entry, entry.Node),
            NodeKind.Directory => throw new FileTreeException(FileTreeError.IsADirectory, $"{p} is a directory"),
            _ => throw new FileTreeException(FileTreeError.NotPermitted, $"{p} is not a regular file"),
        };
    }

    public string ReadLink(string path)
    {
        var p = TreePath.Normalize(path);
        var entry = (p == TreePath.Root ? null : Resolve(p)) ?? throw new FileTreeException(FileTreeError.NotFound, $"{p}: no such file");
        if (entry.Node.Kind != NodeKind.SymbolicLink) throw new FileTreeException(FileTreeError.InvalidArgument, $"{p} is not a symbolic link");
        return entry.Folder.FileSystem.ReadLink(entry.Entry);
    }

    /// <summary>The entry at a normalised path below "/", or null when nothing is there.</summary>
    private TreeEntry? Resolve(string path)
    {
        if (_entries.TryGet(path, out var cached)) return cached;
        var parts = TreePath.Split(path);
        int skip = 1;
        if (!_folders.TryGetValue(parts[0], out var folder))
        {
            // pK/VG-LV/...: a logical volume's folder inside its PV's partition folder.
            if (parts.Length < 2 || !_folders.TryGetValue(parts[0] + "/" + parts[1], out folder)) return null;
            skip = 2;
        }
        if (parts.Length == skip) return FolderEntry(folder);
        var fs = folder.FileSystem;
        var found = fs.Lookup("/" + string.Join('/', parts.AsSpan(skip)));
        if (found is null) return null;
        var entry = new TreeEntry(folder, found, EntryNodes.ToNode(fs, found, parts[^1], folder.NodeSpace));
        _entries.Set(path, entry);
        return entry;
    }

    private static TreeEntry FolderEntry(VolumeFolder folder)
    {
        var root = folder.FileSystem.Root;
        return new TreeEntry(folder, root, EntryNodes.ToNode(folder.FileSystem, root, folder.LogicalVolume ?? folder.Name, folder.NodeSpace));
    }

    /// <summary>A name the kernel can be given: not empty, not "." or "..", no '/' or NUL (a corrupt or foreign directory entry).</summary>
    private static bool IsShowableName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.IndexOfAny(['/', '\0']) < 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var f in Folders) f.Dispose();
    }
}
