namespace MountChain.Mounting.Trees;

/// <summary>
/// A directory tree a mount front-end (FUSE on Linux, Dokan on Windows) presents. Paths are
/// absolute and '/'-separated ("/", "/disk.raw"); front-ends normalise theirs with
/// <see cref="TreePath"/>. Implementations are safe for concurrent use: the front-ends call them
/// from many request threads at once. Problems are reported as <see cref="FileTreeException"/>
/// (or any exception <see cref="FileTreeErrors.Classify"/> understands).
/// </summary>
public interface IFileTree
{
    /// <summary>True when some file of the tree may be opened for writing.</summary>
    bool CanWrite { get; }

    /// <summary>The node at <paramref name="path"/>, or null when nothing is there.</summary>
    FileNode? Find(string path);

    /// <summary>The children of the directory at <paramref name="path"/> (without "." and "..").</summary>
    IReadOnlyList<FileNode> List(string path);

    /// <summary>Opens the regular file at <paramref name="path"/>; writable opens fail with ReadOnly when the tree cannot write.</summary>
    IOpenFile Open(string path, bool write);

    /// <summary>The target of the symbolic link at <paramref name="path"/>.</summary>
    string ReadLink(string path);

    /// <summary>Totals reported by statfs / GetDiskFreeSpace.</summary>
    VolumeInfo Volume { get; }
}

/// <summary>
/// An open regular file. Offsets are bytes; reads past the end return fewer bytes (0 at or after
/// the end). Optional operations throw <see cref="FileTreeException"/> with
/// <see cref="FileTreeError.NotSupported"/> or <see cref="FileTreeError.ReadOnly"/>.
/// </summary>
public interface IOpenFile : IDisposable
{
    /// <summary>The file's current attributes.</summary>
    FileNode Node { get; }

    /// <summary>Whether this handle was opened for writing.</summary>
    bool IsWritable { get; }

    int Read(Span<byte> buffer, long offset);

    int Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>fsync: everything written so far is durable when this returns.</summary>
    void Flush();

    /// <summary>close(): flushes only when something was written since the last flush.</summary>
    void FlushIfDirty();

    /// <summary>Makes the range read as zeros and frees its storage if possible (punch hole).</summary>
    void Discard(long offset, long length);

    /// <summary>Writes zeros over the range (zero range).</summary>
    void WriteZeroes(long offset, long length);

    /// <summary>First offset ≥ <paramref name="offset"/> holding data (SEEK_DATA); NoData when none.</summary>
    long SeekData(long offset);

    /// <summary>First offset ≥ <paramref name="offset"/> inside a hole, or the file size (SEEK_HOLE).</summary>
    long SeekHole(long offset);
}

/// <summary>What a node is.</summary>
public enum NodeKind : byte
{
    Directory,
    RegularFile,
    SymbolicLink,
    /// <summary>A FIFO, socket or device node found in a file system (shown, never opened through the tree).</summary>
    Special,
}

/// <summary>
/// Attributes of one node, platform-neutral; <see cref="UnixAttributes"/> and the Dokan
/// front-end turn them into stat / BY_HANDLE_FILE_INFORMATION.
/// </summary>
/// <param name="Name">Last path component ("" for the root).</param>
/// <param name="Kind">Directory, file or link.</param>
/// <param name="Size">Bytes (0 for directories).</param>
/// <param name="AllocatedBytes">Bytes that hold data (holes excluded), for st_blocks / sparse attributes.</param>
/// <param name="Writable">Whether the node can be written through this mount.</param>
/// <param name="Modified">Last modification time.</param>
/// <param name="Id">Stable number unique in the tree (inode / file index).</param>
public sealed record FileNode(string Name, NodeKind Kind, long Size, long AllocatedBytes, bool Writable,
    DateTimeOffset Modified, long Id)
{
    public bool IsDirectory => Kind == NodeKind.Directory;

    // Optional metadata a file-system tree knows; null means "use the tree's default" (see UnixAttributes).

    /// <summary>Full POSIX st_mode (type and permission bits) as stored on disk, or null to derive it from Kind and Writable.</summary>
    public uint? UnixMode { get; init; }
    /// <summary>Owner and group stored on disk, or null for the serving user.</summary>
    public uint? OwnerId { get; init; }
    public uint? GroupId { get; init; }
    /// <summary>Hard-link count stored on disk, or null (directories 2, others 1).</summary>
    public uint? LinkCount { get; init; }
    /// <summary>Last access, metadata change and creation times, or null to report <see cref="Modified"/>.</summary>
    public DateTimeOffset? Accessed { get; init; }
    public DateTimeOffset? Changed { get; init; }
    public DateTimeOffset? Created { get; init; }
    /// <summary>FILE_ATTRIBUTE_* flags stored on disk (NTFS), or null to derive them.</summary>
    public uint? WindowsAttributes { get; init; }
}

/// <summary>Volume totals in bytes, plus the name shown by df / Explorer.</summary>
public readonly record struct VolumeInfo(string Label, long TotalBytes, long FreeBytes, int BlockSize, long FileCount);
