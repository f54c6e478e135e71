using MountChain.Core.BlockDevices;

namespace MountChain.Mounting.Trees;

/// <summary>The platform-neutral kinds of failure a tree operation reports; front-ends map them to errno / NTSTATUS.</summary>
public enum FileTreeError : byte
{
    NotFound,
    NotADirectory,
    IsADirectory,
    /// <summary>The tree (or device) is read-only.</summary>
    ReadOnly,
    /// <summary>The operation is refused for this node (e.g. deleting or resizing the disk file).</summary>
    NotPermitted,
    InvalidArgument,
    /// <summary>No data at or after the offset (SEEK_DATA past the last data).</summary>
    NoData,
    /// <summary>A write or allocation past the fixed end of the file.</summary>
    NoSpace,
    NotSupported,
    /// <summary>The backing device failed (corrupt metadata, I/O error).</summary>
    IoError,
}

/// <summary>A tree operation failed in a way the caller can name.</summary>
public sealed class FileTreeException(FileTreeError error, string message) : Exception(message)
{
    public FileTreeError Error { get; } = error;
}

/// <summary>Turns any exception raised below a tree into the <see cref="FileTreeError"/> a front-end reports.</summary>
public static class FileTreeErrors
{
    public static FileTreeError Classify(Exception e) => e switch
    {
        FileTreeException f => f.Error,
        ReadOnlyDeviceException => FileTreeError.ReadOnly,
        ArgumentException => FileTreeError.InvalidArgument,
        NotSupportedException or NotImplementedException or FileSystems.Common.FileSystemUnsupportedException => FileTreeError.NotSupported,
        UnauthorizedAccessException => FileTreeError.NotPermitted,
        FileNotFoundException or DirectoryNotFoundException => FileTreeError.NotFound,
        _ => FileTreeError.IoError,
    };

    /// <summary>True when the failure is unexpected and worth logging (not a normal "no such file").</summary>
    public static bool IsUnexpected(FileTreeError error) => error == FileTreeError.IoError;
}
