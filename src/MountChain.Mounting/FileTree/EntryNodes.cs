using MountChain.FileSystems.Common;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.FileTree;

/// <summary>
/// Turns a file system's <see cref="FsEntry"/> into the <see cref="FileNode"/> the front-ends show.
/// Node ids (st_ino, the Windows file index) carry the on-disk inode / MFT record number in their
/// low 56 bits and the partition number in the top 8, so that files of different partitions never
/// share an id (find, du, tar and rsync take equal st_dev+st_ino for the same file). On p0 the id is
/// exactly the on-disk number.
/// </summary>
public static class EntryNodes
{
    public const int PartitionShift = 56;
    public const ulong OnDiskIdMask = (1UL << PartitionShift) - 1;

    /// <summary>Unix permissions of NTFS nodes, which have none on disk (ntfs-3g's read-only defaults).</summary>
    public const uint NtfsDirectoryMode = UnixAttributes.TypeDirectory | 0x16D;  // 0555
    public const uint NtfsFileMode = UnixAttributes.TypeRegular | 0x124;         // 0444
    public const uint NtfsSymlinkMode = UnixAttributes.TypeSymlink | 0x1FF;      // 0777

    public static long NodeId(int partitionNumber, ulong onDiskId) =>
        (long)(((ulong)(uint)partitionNumber << PartitionShift) | (onDiskId & OnDiskIdMask));

    public static NodeKind KindOf(FsEntryType type) => type switch
    {
        FsEntryType.Directory => NodeKind.Directory,
        FsEntryType.File => NodeKind.RegularFile,
        FsEntryType.Symlink => NodeKind.SymbolicLink,
        _ => NodeKind.Special,
    };

    /// <param name="name">The name to show (the folder name "pK" for a file system's root).</param>
    public static FileNode ToNode(IFileSystem fs, FsEntry entry, string name, int partitionNumber)
    {
        var kind = KindOf(entry.Type);
        var modified = entry.ModifiedTime ?? entry.ChangeTime ?? DateTimeOffset.UnixEpoch;
        return new FileNode(name, kind, entry.Size, AllocatedBytes(fs, entry, kind), false, modified, NodeId(partitionNumber, entry.Id))
        {
            UnixMode = entry.Mode ?? DefaultMode(kind),
            OwnerId = entry.Uid,
            GroupId = entry.Gid,
            // NTFS keeps no subdirectory count: 1 tells find/fts not to infer leaves from it (as ntfs-3g does).
            LinkCount = kind == NodeKind.Directory && entry.Mode is null ? 1u : entry.LinkCount,
            Accessed = entry.AccessTime,
            Changed = entry.ChangeTime,
            Created = entry.CreationTime,
            WindowsAttributes = entry.Attributes,
        };
    }

    private static uint? DefaultMode(NodeKind kind) => kind switch
    {
        NodeKind.Directory => NtfsDirectoryMode,
        NodeKind.RegularFile => NtfsFileMode,
        NodeKind.SymbolicLink => NtfsSymlinkMode,
        _ => null,
    };

    /// <summary>Bytes that hold data, for st_blocks: the reader's allocated ranges, or the size when it cannot tell.</summary>
    private static long AllocatedBytes(IFileSystem fs, FsEntry entry, NodeKind kind)
    {
        if (kind != NodeKind.RegularFile) return entry.Size;
        var ranges = fs.GetAllocatedRanges(entry);
        if (ranges is null) return entry.Size;
        long total = 0;
        foreach (var (_, length) in ranges) total += length;
        return total;
    }
}
