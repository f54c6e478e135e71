using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Volumes;
using MountChain.FileSystems.Xfs;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// Read-only FAT12/16/32 with VFAT long names. Names are matched case-insensitively, by long or
/// 8.3 name, as Windows and Linux vfat do; listings keep the stored case. Entry ids are the
/// volume byte position of the 8.3 entry / 32 (Linux's i_pos idea; the root is 1). Attributes are
/// the FAT bits (= FILE_ATTRIBUTE_*); modes are 0755 for directories and 0644 for files, without
/// write bits when read-only (as Linux vfat applies the bit to files only). Thread-safe.
/// </summary>
internal sealed class FatFileSystem : IFileSystem
{
    public const string KindName = "vfat";
    private const int DirectoryCacheCapacity = 128;
    private const int CachedDirectoryMaxEntries = 4096;
    private const uint RootId = 1;

    private readonly FatBootSector _boot;
    private readonly ClusterHeap _heap;
    private readonly AllocationTable _fat;
    private readonly BoundedCache<long, FatDirectoryListing> _directories = new(DirectoryCacheCapacity);
    private readonly FatNode _rootNode;

    public FatFileSystem(IBlockDevice volume)
    {
        string name = volume is VolumeDevice { Name.Length: > 0 } v ? v.Name : "volume";
        if (volume.Length < 512) throw new FileSystemCorruptException($"FAT {name}: smaller than one sector");
        var sector = new byte[512];
        volume.Read(sector, 0);
        string where = $"FAT {name}";
        _boot = FatBootSector.Parse(sector, volume.Length, where);
        Volume = $"{_boot.Kind.Name()} {name}";
        _heap = new ClusterHeap(volume, _boot.HeapOffset, _boot.ClusterSize, _boot.ClusterCount, Volume);
        _fat = new AllocationTable(_heap, _boot.Kind, _boot.FatOffset, _boot.FatLength);
        if (_boot.Kind == AllocationTableKind.Fat32 && !_heap.IsValid(_boot.RootCluster))
            throw new FileSystemCorruptException($"{Volume}: boot sector field root cluster = {_boot.RootCluster}, outside the {_heap.ClusterCount}-cluster volume");
        _rootNode = new FatNode { FirstCluster = _boot.RootCluster, Length = 0, ValidLength = 0, IsDirectory = true };
        Root = new FsEntry
        {
            Name = "", Path = "/", Type = FsEntryType.Directory, Id = RootId,
            Mode = DirectoryMode, Attributes = FatDirectoryEntry.Directory, Native = _rootNode,
        };
        string? rootLabel = Directory(_rootNode, "/").Label;
        Label = rootLabel is { Length: > 0 } ? rootLabel : _boot.BootLabel;
    }

    private const uint DirectoryMode = 0x4000 | 0x1ED; // drwxr-xr-x
    private const uint FileMode = 0x8000 | 0x1A4;      // -rw-r--r--

    public string Kind => KindName;
    /// <summary>The root directory's volume-label entry, else the boot sector's label (as blkid).</summary>
    public string Label { get; }
    public FsEntry Root { get; }
    /// <summary>"FAT12", "FAT16" or "FAT32".</summary>
    public string Variant => _boot.Kind.Name();
    public int ClusterSize => _boot.ClusterSize;
    /// <summary>How errors name the volume, e.g. "FAT32 p1".</summary>
    public string Volume { get; }

    public IReadOnlyList<FsEntry> List(FsEntry directory)
    {
        var node = NodeOf(directory);
        if (!node.IsDirectory) throw new IOException($"{Volume}: {directory.Path}: not a directory");
        var listing = Directory(node, directory.Path);
        var result = new List<FsEntry>(listing.Entries.Count);
        foreach (var e in listing.Entries) result.Add(MakeEntry(e, directory.Path, node));
        return result;
    }

    public FsEntry? Lookup(string path)
    {
        var current = Root;
        var stack = new List<FsEntry>();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (stack.Count > 0) stack.RemoveAt(stack.Count - 1); current = stack.Count > 0 ? stack[^1] : Root; continue; }
            if (current.Type != FsEntryType.Directory) return null;
            var node = NodeOf(current);
            FatDirectoryEntry? hit = null;
            foreach (var e in Directory(node, current.Path).Entries)
                if (string.Equals(e.Name, part, StringComparison.OrdinalIgnoreCase) || string.Equals(e.ShortName, part, StringComparison.OrdinalIgnoreCase))
                {
                    hit = e;
                    break;
                }
            if (hit == null) return null;
            current = MakeEntry(hit, current.Path, node);
            stack.Add(current);
        }
        return current;
    }

    public int Read(FsEntry entry, Span<byte> buffer, long offset)
    {
        var node = NodeOf(entry);
        if (node.IsDirectory) throw new IOException($"{Volume}: {entry.Path}: is a directory");
        if (node.Length == 0 || offset >= node.Length) return 0;
        return _heap.Read(RunsOf(node, entry.Path), node.Length, buffer, offset, $"{Volume}: {entry.Path}");
    }

    public string ReadLink(FsEntry entry) => throw new IOException($"{Volume}: {entry.Path}: not a symbolic link (FAT has none)");

    public void Dispose() { }

    private FatNode NodeOf(FsEntry entry) =>
        entry.Native as FatNode ?? Lookup(entry.Path)?.Native as FatNode
        ?? throw new FileNotFoundException($"{Volume}: {entry.Path}: no such file");

    private ClusterRuns RunsOf(FatNode node, string path)
    {
        if (node.Runs is { } known) return known;
        string where = $"{Volume}: {path}";
        if (node.FirstCluster == 0)
            throw new FileSystemCorruptException($"{where}: {node.Length} bytes but no first cluster");
        long needed = (node.Length + _heap.ClusterSize - 1) >> _heap.ClusterShift;
        var runs = _fat.Chain(node.FirstCluster, needed, needed, where);
        node.Runs = runs;
        return runs;
    }

    private FatDirectoryListing Directory(FatNode node, string path)
    {
        long key = node.IsRoot ? -1 : node.FirstCluster;
        if (_directories.TryGet(key, out var cached)) return cached!;
        string where = $"{Volume}: directory {path}";
        List<(long, long)> extents;
        if (node.IsRoot && _boot.Kind != AllocationTableKind.Fat32)
            extents = [(_boot.RootRegionOffset, (long)_boot.RootEntryCount * DirectoryEntryStream.EntrySize)];
        else
        {
            long maxClusters = Math.Max(1, FatDirectoryParser.MaxDirectoryBytes >> _heap.ClusterShift);
            var runs = node.Runs ??= _fat.Chain(node.FirstCluster, null, maxClusters, where);
            extents = DirectoryEntryStream.Extents(_heap, runs, (long)runs.ClusterCount << _heap.ClusterShift);
        }
        var listing = FatDirectoryParser.Parse(new DirectoryEntryStream(_heap.Device, extents), node.IsRoot);
        foreach (var e in listing.Entries)
            if (e.IsDirectory && node.IsSelfOrAncestor(ClusterOf(e)) || e.IsDirectory && ClusterOf(e) == 0)
                throw new FileSystemCorruptException($"{where}: entry '{e.Name}' points back to cluster {ClusterOf(e)}, this directory or one above it (the tree loops)");
        if (listing.Entries.Count <= CachedDirectoryMaxEntries) _directories.Add(key, listing);
        return listing;
    }

    /// <summary>FAT12/16 keep only the low 16 bits (the high word is OS/2's extended-attribute handle there).</summary>
    private uint ClusterOf(FatDirectoryEntry e) => _boot.Kind == AllocationTableKind.Fat32 ? e.FirstCluster & 0x0FFFFFFF : e.FirstCluster & 0xFFFF;

    private FsEntry MakeEntry(FatDirectoryEntry e, string parentPath, FatNode parent)
    {
        bool dir = e.IsDirectory;
        var node = new FatNode { FirstCluster = ClusterOf(e), Length = dir ? 0 : e.Size, ValidLength = dir ? 0 : e.Size, IsDirectory = dir, Parent = parent };
        uint mode = dir ? DirectoryMode : (e.Attributes & FatDirectoryEntry.ReadOnly) != 0 ? FileMode & ~0x92u : FileMode;
        return new FsEntry
        {
            Name = e.Name,
            Path = parentPath == "/" ? "/" + e.Name : parentPath + "/" + e.Name,
            Type = dir ? FsEntryType.Directory : FsEntryType.File,
            Size = dir ? 0 : e.Size,
            Id = (ulong)e.Position / DirectoryEntryStream.EntrySize,
            ModifiedTime = e.Modified,
            AccessTime = e.Accessed,
            CreationTime = e.Created,
            Mode = mode,
            Attributes = (uint)(e.Attributes & 0x37),
            Native = node,
        };
    }
}
