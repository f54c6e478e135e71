using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Common;

/// <summary>
/// A read-only file system on a volume. Implementations are thread-safe (positional reads only)
/// and never trust an on-disk length, offset or count without a bounds check; structural loops
/// end with <see cref="FileSystemCorruptException"/>.
/// </summary>
public interface IFileSystem : IDisposable
{
    /// <summary>Short name: "ntfs", "xfs".</summary>
    string Kind { get; }

    /// <summary>Volume label, or empty.</summary>
    string Label { get; }

    /// <summary>The root directory.</summary>
    FsEntry Root { get; }

    /// <summary>Entries of a directory (no "." / ".."), in on-disk or name order. Deleted entries are not listed.</summary>
    IReadOnlyList<FsEntry> List(FsEntry directory);

    /// <summary>Resolves a '/'-separated absolute path; symlinks in the middle are followed, the last component is not. Null if absent.</summary>
    FsEntry? Lookup(string path);

    /// <summary>Reads file content (the default data stream, or <paramref name="entry"/>'s stream for an ADS entry) at <paramref name="offset"/>; returns bytes read (0 at end).</summary>
    int Read(FsEntry entry, Span<byte> buffer, long offset);

    /// <summary>Target text of a symbolic link.</summary>
    string ReadLink(FsEntry entry);

    /// <summary>Allocated ranges of a file as (offset, length) in file bytes, for sparse-aware copying. Null if unknown (treat as fully allocated).</summary>
    IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry) => null;

    /// <summary>
    /// Where bytes [offset, offset+length) of a file's content (inside its size) lie in the OS files
    /// under the volume, for zero-copy extraction: <see cref="FileRange"/>s in order (merged), each
    /// file bytes or zeros (holes, unwritten extents), through the volume's <see cref="IFileRangeSource"/>. False when the reader cannot say (inline, resident or compressed data) or
    /// the device cannot (compressed grains): the caller reads through <see cref="Read"/> instead.
    /// </summary>
    bool TryLocate(FsEntry entry, long offset, int length, List<FileRange> output) => false;

    /// <summary>Extended attributes as the kernel's getxattr shows them (name with namespace prefix, value), or null when the reader has none.</summary>
    IReadOnlyList<(string Name, byte[] Value)>? GetExtendedAttributes(FsEntry entry) => null;
}

public enum FsEntryType : byte { File, Directory, Symlink, Other }

/// <summary>One directory entry with the metadata `ls -l` and `stat` show.</summary>
public sealed record FsEntry
{
    public required string Name { get; init; }
    /// <summary>Absolute path inside the file system, '/'-separated ("/" for the root).</summary>
    public required string Path { get; init; }
    public required FsEntryType Type { get; init; }
    public long Size { get; init; }
    /// <summary>Inode number (XFS) or MFT record number (NTFS).</summary>
    public ulong Id { get; init; }
    public DateTimeOffset? ModifiedTime { get; init; }
    public DateTimeOffset? AccessTime { get; init; }
    public DateTimeOffset? ChangeTime { get; init; }
    public DateTimeOffset? CreationTime { get; init; }
    /// <summary>POSIX mode bits incl. type (XFS), or null.</summary>
    public uint? Mode { get; init; }
    public uint? Uid { get; init; }
    public uint? Gid { get; init; }
    public uint LinkCount { get; init; } = 1;
    /// <summary>NTFS file attributes (FILE_ATTRIBUTE_*), or null.</summary>
    public uint? Attributes { get; init; }
    /// <summary>For an NTFS alternate data stream entry "file:stream": the stream name; else null.</summary>
    public string? StreamName { get; init; }
    /// <summary>Reader-private handle (e.g. the inode or MFT record) so Read/List need no second lookup.</summary>
    public object? Native { get; init; }
}

/// <summary>The file system's structures are inconsistent; the message names the structure.</summary>
public sealed class FileSystemCorruptException(string message) : IOException(message);

/// <summary>
/// A consistent file system uses a feature we do not read (an XFS realtime file, ext bigalloc): an
/// input problem like corruption (exit 1, design.md rule 6), reported as "not supported" by mounts.
/// </summary>
public sealed class FileSystemUnsupportedException(string message) : IOException(message);
