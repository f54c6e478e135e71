using System.Buffers.Binary;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>Reader-private handle stored in <see cref="FsEntry.Native"/>.</summary>
internal sealed record NtfsNode(long Record, string? Stream);

/// <summary>
/// Read-only NTFS (versions 3.x as written by Windows and ntfs-3g). Listings follow ntfs-3g:
/// DOS-only names and the metadata files (records 0–15) are hidden, alternate data streams appear
/// as "file:stream" entries. Thread-safe: positional reads and an internally locked record cache.
/// </summary>
internal sealed class NtfsFileSystem : IFileSystem
{
    private const int CacheCapacity = 4096;
    private const int MaxSymlinkHops = 40;

    private readonly IBlockDevice _volume;
    private readonly NtfsBootSector _boot;
    private readonly AttributeReader _reader;
    private readonly MasterFileTable _mft;
    private readonly MftRecordCache _cache = new(CacheCapacity);

    public NtfsFileSystem(IBlockDevice volume)
    {
        _volume = volume;
        var sector = new byte[512];
        if (volume.Length < 512) throw new FileSystemCorruptException("NTFS boot sector: volume is smaller than one sector");
        volume.Read(sector, 0);
        _boot = NtfsBootSector.Parse(sector, volume.Length);
        _reader = new AttributeReader(volume, _boot.ClusterSize);
        _mft = new MasterFileTable(volume, _boot, _reader);
        var root = LoadFile(WellKnownRecords.Root) ?? throw new FileSystemCorruptException("NTFS MFT record 5 (root directory) is not in use");
        if (!root.IsDirectory) throw new FileSystemCorruptException("NTFS MFT record 5 (root directory) is not a directory");
        Root = MakeEntry(root, "", "/", null);
        Label = ReadLabel();
    }

    public string Kind => "ntfs";
    public string Label { get; }
    public FsEntry Root { get; }
    public int ClusterSize => _boot.ClusterSize;

    private string ReadLabel()
    {
        var volume = LoadFile(WellKnownRecords.Volume);
        var name = volume?.Find(AttributeType.VolumeName);
        return name?.ResidentValue is { } v ? Encoding.Unicode.GetString(v) : "";
    }

    private NtfsFile? LoadFile(long record)
    {
        try { return _cache.GetOrAdd(record, n => _mft.LoadFile(n) ?? throw new NotInUseException()); }
        catch (NotInUseException) { return null; }
    }

    private sealed class NotInUseException : Exception;

    private NtfsFile FileOf(FsEntry entry)
    {
        var node = entry.Native as NtfsNode ?? throw new ArgumentException($"{entry.Path}: entry does not come from this NTFS reader");
        return LoadFile(node.Record) ?? throw new FileSystemCorruptException($"{entry.Path}: MFT record {node.Record} is no longer in use");
    }

    public IReadOnlyList<FsEntry> List(FsEntry directory)
    {
        var dir = FileOf(directory);
        if (directory.Type != FsEntryType.Directory || !dir.IsDirectory)
            throw new IOException($"{directory.Path}: not a directory");
        var names = new List<IndexedName>();
        new DirectoryIndex(dir, _reader, _boot.ClusterSize).Walk(n => { names.Add(n); return true; });
        var result = new List<FsEntry>(names.Count);
        foreach (var n in names)
        {
            if (n.Namespace == FileNameLayout.NamespaceDos || n.Record < WellKnownRecords.FirstUser) continue;
            var file = LoadFile(n.Record);
            // A stale entry (record freed or reused) is a deleted file: not listed.
            if (file == null || n.Sequence != 0 && n.Sequence != file.SequenceNumber) continue;
            string path = directory.Path == "/" ? "/" + n.Name : directory.Path + "/" + n.Name;
            var entry = MakeEntry(file, n.Name, path, null);
            result.Add(entry);
            AddStreams(file, entry, result);
        }
        return result;
    }

    private void AddStreams(NtfsFile file, FsEntry entry, List<FsEntry> result)
    {
        foreach (var a in file.All(AttributeType.Data))
            if (a.Name.Length > 0)
                result.Add(MakeEntry(file, entry.Name + ":" + a.Name, entry.Path + ":" + a.Name, a.Name));
    }

    private FsEntry MakeEntry(NtfsFile file, string name, string path, string? stream)
    {
        var si = file.Find(AttributeType.StandardInformation)?.ResidentValue;
        if (si == null || si.Length < StandardInformationLayout.MinSize)
            throw new FileSystemCorruptException($"NTFS MFT record {file.Number}: missing or short $STANDARD_INFORMATION");
        uint attributes = BinaryPrimitives.ReadUInt32LittleEndian(si.AsSpan(StandardInformationLayout.FileAttributes));
        FsEntryType type;
        long size;
        if (stream != null)
        {
            type = FsEntryType.File;
            size = file.Find(AttributeType.Data, stream)?.Length ?? 0;
        }
        else
        {
            var kind = NtfsEntryClassifier.Classify(file, attributes, _reader);
            type = kind.Type;
            size = type switch
            {
                FsEntryType.Symlink => Encoding.UTF8.GetByteCount(kind.LinkTarget!),
                FsEntryType.Directory => file.Find(AttributeType.IndexAllocation, "$I30")?.Length ?? file.Find(AttributeType.IndexRoot, "$I30")?.Length ?? 0,
                _ => file.Find(AttributeType.Data)?.Length ?? 0,
            };
        }
        return new FsEntry
        {
            Name = name,
            Path = path,
            Type = type,
            Size = size,
            Id = (ulong)file.Number,
            CreationTime = FileTime(si, StandardInformationLayout.CreationTime),
            ModifiedTime = FileTime(si, StandardInformationLayout.ModificationTime),
            ChangeTime = FileTime(si, StandardInformationLayout.MftModificationTime),
            AccessTime = FileTime(si, StandardInformationLayout.AccessTime),
            LinkCount = Math.Max((uint)1, file.LinkCount),
            Attributes = attributes,
            StreamName = stream,
            Native = new NtfsNode(file.Number, stream),
        };
    }

    private static DateTimeOffset? FileTime(byte[] si, int offset)
    {
        long ticks = BinaryPrimitives.ReadInt64LittleEndian(si.AsSpan(offset));
        if (ticks <= 0 || ticks > DateTime.MaxValue.ToFileTimeUtc()) return null;
        return new DateTimeOffset(DateTime.FromFileTimeUtc(ticks));
    }

    public FsEntry? Lookup(string path)
    {
        var pending = new Stack<string>(Split(path).Reverse());
        var stack = new List<FsEntry> { Root };
        int hops = 0;
        while (pending.Count > 0)
        {
            string component = pending.Pop();
            if (component == ".") continue;
            if (component == "..") { if (stack.Count > 1) stack.RemoveAt(stack.Count - 1); continue; }
            var current = stack[^1];
            if (current.Type != FsEntryType.Directory) return null;
            var child = FindChild(current, component, isLast: pending.Count == 0);
            if (child == null) return null;
            if (child.Type == FsEntryType.Symlink && pending.Count > 0)
            {
                if (++hops > MaxSymlinkHops) throw new IOException($"{path}: too many levels of symbolic links");
                string target = ReadLink(child);
                if (target.StartsWith('/')) stack.RemoveRange(1, stack.Count - 1);
                foreach (var part in Split(target).Reverse()) pending.Push(part);
                continue;
            }
            stack.Add(child);
        }
        return stack[^1];
    }

    private static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Windows' full stream syntax "file:stream:$DATA" always names the stream, even next to a real file "file:stream".</summary>
    private const string DataStreamSuffix = ":$DATA";

    private FsEntry? FindChild(FsEntry directory, string name, bool isLast)
    {
        if (isLast && name.EndsWith(DataStreamSuffix, StringComparison.OrdinalIgnoreCase) && name.IndexOf(':') < name.Length - DataStreamSuffix.Length)
            return FindStream(directory, name[..^DataStreamSuffix.Length]);
        var dir = FileOf(directory);
        IndexedName? exact = null, folded = null;
        new DirectoryIndex(dir, _reader, _boot.ClusterSize).Walk(n =>
        {
            if (n.Namespace == FileNameLayout.NamespaceDos || n.Record < WellKnownRecords.FirstUser) return true;
            if (n.Name == name) { exact = n; return false; }
            // Lookups are case-insensitive as on Windows, an exact match first: a Win32 name folds
            // before a POSIX one (ntfs-3g writes POSIX names, which may differ only in case).
            if (string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase) && (folded == null || folded.Value.Namespace == 0 && n.Namespace != 0)) folded = n;
            return true;
        });
        string path = directory.Path == "/" ? "/" + name : directory.Path + "/" + name;
        if ((exact ?? folded) is { } hit)
        {
            var file = LoadFile(hit.Record);
            if (file == null || hit.Sequence != 0 && hit.Sequence != file.SequenceNumber) return null;
            return MakeEntry(file, hit.Name, directory.Path == "/" ? "/" + hit.Name : directory.Path + "/" + hit.Name, null);
        }
        // "file:stream" names an alternate data stream when no entry has that name.
        return isLast ? FindStream(directory, name) : null;
    }

    /// <summary>The stream of "file:stream" in <paramref name="directory"/>, or null.</summary>
    private FsEntry? FindStream(FsEntry directory, string name)
    {
        int colon = name.IndexOf(':');
        if (colon <= 0 || colon >= name.Length - 1) return null;
        var owner = FindChild(directory, name[..colon], isLast: false);
        string stream = name[(colon + 1)..];
        if (owner == null || owner.StreamName != null) return null;
        var file = FileOf(owner);
        if (file.Find(AttributeType.Data, stream) == null) return null;
        return MakeEntry(file, owner.Name + ":" + stream, owner.Path + ":" + stream, stream);
    }

    public int Read(FsEntry entry, Span<byte> buffer, long offset)
    {
        var file = FileOf(entry);
        string stream = (entry.Native as NtfsNode)?.Stream ?? "";
        if (stream.Length == 0 && entry.Type == FsEntryType.Directory)
            throw new IOException($"{entry.Path}: is a directory");
        var data = file.Find(AttributeType.Data, stream);
        if (data == null) return 0;
        return _reader.Read(data, buffer, offset, $"NTFS file {entry.Path} (MFT record {file.Number})");
    }

    public string ReadLink(FsEntry entry)
    {
        var file = FileOf(entry);
        var si = file.Find(AttributeType.StandardInformation)?.ResidentValue;
        uint attributes = si is { Length: >= StandardInformationLayout.MinSize } ? BinaryPrimitives.ReadUInt32LittleEndian(si.AsSpan(StandardInformationLayout.FileAttributes)) : 0;
        var kind = NtfsEntryClassifier.Classify(file, attributes, _reader);
        return kind.LinkTarget ?? throw new IOException($"{entry.Path}: not a symbolic link");
    }

    public IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry)
    {
        var file = FileOf(entry);
        var data = file.Find(AttributeType.Data, (entry.Native as NtfsNode)?.Stream ?? "");
        return data == null ? [] : _reader.AllocatedRanges(data);
    }

    /// <summary>The volume is owned by the caller.</summary>
    public void Dispose() { }
}
