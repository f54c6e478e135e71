using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Fat;
using MountChain.FileSystems.Volumes;
using MountChain.FileSystems.Xfs;

namespace MountChain.FileSystems.Exfat;

/// <summary>
/// Read-only exFAT: boot region checksum, FAT chains and NoFatChain (contiguous) files, entry
/// sets with SetChecksum and NameHash verified, the up-case table for case-insensitive lookups,
/// the allocation bitmap to refuse files on free clusters, and ValidDataLength (bytes past it
/// read as zeros and are reported unallocated). Ids are the volume byte position of the File
/// entry / 32 (root = 1); modes and attributes as in <see cref="FatFileSystem"/>. Thread-safe.
/// </summary>
internal sealed class ExfatFileSystem : IFileSystem
{
    public const string KindName = "exfat";
    private const int DirectoryCacheCapacity = 128;
    private const int CachedDirectoryMaxEntries = 4096;
    /// <summary>exFAT allows directories of at most 256 MiB; we stream them, but bound the entries kept.</summary>
    private const long MaxDirectoryBytes = 256L << 20;
    private const int MaxDirectoryEntries = 1 << 20;
    private const uint DirectoryMode = 0x4000 | 0x1ED, FileMode = 0x8000 | 0x1A4;

    private readonly ClusterHeap _heap;
    private readonly AllocationTable _fat;
    private readonly ExfatUpcaseTable _upcase;
    private readonly ExfatAllocationBitmap _bitmap;
    private readonly BoundedCache<uint, ExfatDirectoryListing> _directories = new(DirectoryCacheCapacity);
    private readonly FatNode _rootNode;

    public ExfatFileSystem(IBlockDevice volume)
    {
        string name = volume is VolumeDevice { Name.Length: > 0 } v ? v.Name : "volume";
        Volume = $"exFAT {name}";
        var boot = ExfatBootRegion.Read(volume, Volume);
        _heap = new ClusterHeap(volume, boot.HeapOffset, boot.ClusterSize, boot.ClusterCount, Volume);
        _fat = new AllocationTable(_heap, AllocationTableKind.Exfat, boot.FatOffset, boot.FatLength);
        _rootNode = new FatNode { FirstCluster = boot.RootCluster, Length = 0, ValidLength = 0, IsDirectory = true };
        var rootRuns = _fat.Chain(boot.RootCluster, null, MaxDirectoryBytes >> _heap.ClusterShift, $"{Volume}: root directory");
        _rootNode.Runs = rootRuns;

        // The root is read twice: first for the up-case table (names unchecked), then for real.
        var first = ExfatDirectoryParser.Parse(Stream(rootRuns, (long)rootRuns.ClusterCount << _heap.ClusterShift), null, $"{Volume}: root directory");
        _upcase = LoadUpcase(first.Structures);
        _bitmap = LoadBitmap(first.Structures, boot.ActiveFat);
        var root = Directory(_rootNode, "/");
        Label = root.Label ?? "";
        Root = new FsEntry
        {
            Name = "", Path = "/", Type = FsEntryType.Directory, Id = 1,
            Mode = DirectoryMode, Attributes = ExfatDirectoryEntry.Directory, Native = _rootNode,
        };
    }

    public string Kind => KindName;
    public string Label { get; }
    public FsEntry Root { get; }
    public int ClusterSize => _heap.ClusterSize;
    public string Volume { get; }

    private ExfatUpcaseTable LoadUpcase(IReadOnlyList<ExfatVolumeStructure> structures)
    {
        string where = $"{Volume}: up-case table";
        var entry = structures.FirstOrDefault(s => s.Type == ExfatDirectoryParser.UpcaseTable);
        if (entry.Type == 0) throw new FileSystemCorruptException($"{where}: missing from the root directory");
        if (entry.DataLength is 0 or > ExfatUpcaseTable.MaxBytes) throw new FileSystemCorruptException($"{where}: DataLength = {entry.DataLength}");
        var data = new byte[entry.DataLength];
        _heap.Read(Runs(entry.FirstCluster, (long)entry.DataLength, false, where), data.Length, data, 0, where);
        return ExfatUpcaseTable.Parse(data, entry.Checksum, where);
    }

    private ExfatAllocationBitmap LoadBitmap(IReadOnlyList<ExfatVolumeStructure> structures, int activeFat)
    {
        string where = $"{Volume}: allocation bitmap";
        var entry = structures.FirstOrDefault(s => s.Type == ExfatDirectoryParser.AllocationBitmap && (s.Flags & 1) == activeFat);
        if (entry.Type == 0) throw new FileSystemCorruptException($"{where}: missing from the root directory");
        if (entry.DataLength > ((ulong)_heap.ClusterCount + 7) / 8 + (ulong)_heap.ClusterSize)
            throw new FileSystemCorruptException($"{where}: DataLength = {entry.DataLength}, larger than {_heap.ClusterCount} clusters need");
        long length = (long)entry.DataLength;
        return new ExfatAllocationBitmap(_heap, Runs(entry.FirstCluster, length, false, where), length, where);
    }

    /// <summary>The clusters of <paramref name="length"/> bytes from <paramref name="first"/>: consecutive (NoFatChain) or by the FAT.</summary>
    private ClusterRuns Runs(uint first, long length, bool contiguous, string where)
    {
        if (length == 0) return ClusterRuns.Empty;
        long needed = (length + _heap.ClusterSize - 1) >> _heap.ClusterShift;
        if (!contiguous) return _fat.Chain(first, needed, needed, where);
        if (!_heap.IsValidRange(first, (ulong)needed))
            throw new FileSystemCorruptException($"{where}: {needed} consecutive clusters from {first} lie outside the {_heap.ClusterCount}-cluster volume");
        var runs = new ClusterRuns();
        runs.AddRange(first, (uint)needed);
        return runs;
    }

    private DirectoryEntryStream Stream(ClusterRuns runs, long length) =>
        new(_heap.Device, DirectoryEntryStream.Extents(_heap, runs, length));

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
            var hit = Directory(node, current.Path).Entries.FirstOrDefault(e => _upcase.NamesEqual(e.Name, part));
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
        if (offset >= node.Length || buffer.IsEmpty) return 0;
        int n = (int)Math.Min(buffer.Length, node.Length - offset);
        int valid = offset >= node.ValidLength ? 0 : (int)Math.Min(n, node.ValidLength - offset);
        if (valid > 0) _heap.Read(RunsOf(node, entry.Path), node.ValidLength, buffer[..valid], offset, $"{Volume}: {entry.Path}");
        buffer[valid..n].Clear(); // past ValidDataLength the content is zeros, whatever the clusters hold
        return n;
    }

    public string ReadLink(FsEntry entry) => throw new IOException($"{Volume}: {entry.Path}: not a symbolic link (exFAT has none)");

    public IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry)
    {
        var node = NodeOf(entry);
        return node.ValidLength == 0 ? [] : [(0, node.ValidLength)];
    }

    public void Dispose() { }

    private FatNode NodeOf(FsEntry entry) =>
        entry.Native as FatNode ?? Lookup(entry.Path)?.Native as FatNode
        ?? throw new FileNotFoundException($"{Volume}: {entry.Path}: no such file");

    private ClusterRuns RunsOf(FatNode node, string path)
    {
        if (node.Runs is { } known) return known;
        string where = $"{Volume}: {path}";
        // Only the clusters up to ValidDataLength are read; the rest may legitimately be unwritten.
        var runs = Runs(node.FirstCluster, node.ValidLength, node.Contiguous, where);
        _bitmap.CheckAllocated(runs, where);
        node.Runs = runs;
        return runs;
    }

    private ExfatDirectoryListing Directory(FatNode node, string path)
    {
        if (_directories.TryGet(node.FirstCluster, out var cached)) return cached!;
        string where = $"{Volume}: directory {path}";
        long length;
        ClusterRuns runs;
        if (node.IsRoot)
        {
            runs = node.Runs!;
            length = (long)runs.ClusterCount << _heap.ClusterShift;
        }
        else
        {
            if (node.Length > MaxDirectoryBytes || node.Length % _heap.ClusterSize != 0)
                throw new FileSystemCorruptException($"{where}: DataLength = {node.Length} (a whole number of clusters, at most 256 MiB)");
            length = node.Length;
            runs = node.Runs ??= Runs(node.FirstCluster, length, node.Contiguous, where);
        }
        var listing = ExfatDirectoryParser.Parse(Stream(runs, length), _upcase, where);
        if (listing.Entries.Count > MaxDirectoryEntries) throw new FileSystemCorruptException($"{where}: more than {MaxDirectoryEntries} entries");
        foreach (var e in listing.Entries)
            if (e.IsDirectory && node.IsSelfOrAncestor(e.FirstCluster))
                throw new FileSystemCorruptException($"{where}: entry '{e.Name}' points back to cluster {e.FirstCluster}, this directory or one above it (the tree loops)");
        if (listing.Entries.Count <= CachedDirectoryMaxEntries) _directories.Add(node.FirstCluster, listing);
        return listing;
    }

    private FsEntry MakeEntry(ExfatDirectoryEntry e, string parentPath, FatNode parent)
    {
        bool dir = e.IsDirectory;
        if (e.DataLength > long.MaxValue / 2) throw new FileSystemCorruptException($"{Volume}: {parentPath}/{e.Name}: DataLength = {e.DataLength}");
        var node = new FatNode
        {
            FirstCluster = e.FirstCluster, Length = (long)e.DataLength, ValidLength = dir ? (long)e.DataLength : (long)e.ValidDataLength,
            IsDirectory = dir, Contiguous = e.NoFatChain, Parent = parent,
        };
        uint mode = dir ? DirectoryMode : (e.Attributes & ExfatDirectoryEntry.ReadOnly) != 0 ? FileMode & ~0x92u : FileMode;
        return new FsEntry
        {
            Name = e.Name,
            Path = parentPath == "/" ? "/" + e.Name : parentPath + "/" + e.Name,
            Type = dir ? FsEntryType.Directory : FsEntryType.File,
            Size = (long)e.DataLength,
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
