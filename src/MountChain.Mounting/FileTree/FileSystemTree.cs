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
    private readonly BoundedCache<string, TreeEntry> _entries;
    private readonly DateTimeOffset _created;
    private int _disposed;

    /// <summary>What a path under "pK" resolved to: the reader's entry, its node, and its file system.</summary>
    internal sealed record TreeEntry(VolumeFolder Folder, FsEntry Entry, FileNode Node);

    /// <param name="folders">The volumes to show, owned by the tree from now on.</param>
    /// <param name="created">Time shown for "/" itself.</param>
    public FileSystemTree(IEnumerable<VolumeFolder> folders, DateTimeOffset created, int cacheCapacity = DefaultCacheCapacity)
    {
        Folders = folders.OrderBy(f => f.PartitionNumber).ToList();
        _folders = Folders.ToDictionary(f => f.Name, StringComparer.Ordinal);
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
        return p == TreePath.Root ? RootNode : Resolve(p)?.Node;
    }

    public IReadOnlyList<FileNode> List(string path)
    {
        var p = TreePath.Normalize(path);
        if (p == TreePath.Root) return Folders.Select(f => FolderEntry(f).Node).ToList();
        var directory = Resolve(p) ?? throw new FileTreeException(FileTreeError.NotFound, $"{p}: no such directory");
        if (directory.Node.Kind != NodeKind.Directory) throw new FileTreeException(FileTreeError.NotADirectory, $"{p} is not a directory");
        var fs = directory.Folder.FileSystem;
        var result = new List<FileNode>();
        foreach (var child in fs.List(directory.Entry))
        {
            // Streams live behind their file; names a POSIX path cannot carry are left out.
            if (child.StreamName != null || !IsShowableName(child.Name)) continue;
            var entry = new TreeEntry(directory.Folder, child, EntryNodes.ToNode(fs, child, child.Name, directory.Folder.PartitionNumber));
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
        if (!_folders.TryGetValue(parts[0], out var folder)) return null;
        if (parts.Length == 1) return FolderEntry(folder);
        var fs = folder.FileSystem;
        var found = fs.Lookup("/" + string.Join('/', parts.AsSpan(1)));
        if (found is null) return null;
        var entry = new TreeEntry(folder, found, EntryNodes.ToNode(fs, found, parts[^1], folder.PartitionNumber));
        _entries.Set(path, entry);
        return entry;
    }

    private static TreeEntry FolderEntry(VolumeFolder folder)
    {
        var root = folder.FileSystem.Root;
        return new TreeEntry(folder, root, EntryNodes.ToNode(folder.FileSystem, root, folder.Name, folder.PartitionNumber));
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
