using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Wraps an opened file system so that every input error it raises names the volume and the path
/// being read ("p2:/etc/passwd: XFS inode 131: ..."), whichever reader raised it: the readers name
/// the structure, only the caller knows the volume (design.md rule 6). Exception types are kept,
/// so callers (the CLI's exit codes, the FUSE tree's errno) classify them as before. Every member of
/// <see cref="IFileSystem"/>, default ones included, must be forwarded here (VolumeErrorNamingTests checks).
/// </summary>
internal sealed class VolumeErrorNaming(IFileSystem inner, string volume) : IFileSystem
{
    public IFileSystem Inner { get; } = inner;
    public string Kind => Inner.Kind;
    public string Label => Named(null, () => Inner.Label);
    public FsEntry Root => Named(null, () => Inner.Root);

    public IReadOnlyList<FsEntry> List(FsEntry directory) => Named(directory.Path, () => Inner.List(directory));
    public FsEntry? Lookup(string path) => Named(path, () => Inner.Lookup(path));
    public string ReadLink(FsEntry entry) => Named(entry.Path, () => Inner.ReadLink(entry));
    public IReadOnlyList<(long Offset, long Length)>? GetAllocatedRanges(FsEntry entry) => Named(entry.Path, () => Inner.GetAllocatedRanges(entry));
    public IReadOnlyList<(string Name, byte[] Value)>? GetExtendedAttributes(FsEntry entry) => Named(entry.Path, () => Inner.GetExtendedAttributes(entry));

    public int Read(FsEntry entry, Span<byte> buffer, long offset)
    {
        try { return Inner.Read(entry, buffer, offset); }
        catch (IOException e) when (Renamed(e, entry.Path) is { } named) { throw named; }
    }

    public void Dispose() => Inner.Dispose();

    private T Named<T>(string? path, Func<T> action)
    {
        try { return action(); }
        catch (IOException e) when (Renamed(e, path) is { } named) { throw named; }
    }

    /// <summary>The same error with "volume:path: " in front, or null when it already names the volume or must keep its identity.</summary>
    private IOException? Renamed(IOException e, string? path)
    {
        if (e is FileNotFoundException or DirectoryNotFoundException or Core.BlockDevices.ReadOnlyDeviceException) return null;
        if (e.Message.StartsWith(volume + ":", StringComparison.Ordinal)) return null;
        string where = path is null || e.Message.Contains(path, StringComparison.Ordinal) ? volume : $"{volume}:{path}";
        string message = $"{where}: {e.Message}";
        return e switch
        {
            FileSystemCorruptException => new FileSystemCorruptException(message),
            FileSystemUnsupportedException => new FileSystemUnsupportedException(message),
            _ => new IOException(message, e),
        };
    }
}
