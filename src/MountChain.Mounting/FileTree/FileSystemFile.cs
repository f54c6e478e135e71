using MountChain.FileSystems.Common;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.FileTree;

/// <summary>
/// An open regular file of a <see cref="FileSystemTree"/>: positional reads straight from the
/// file-system reader (no position, no buffer shared between requests), so any number of reads
/// may run at once. Every change is refused with ReadOnly (EROFS).
/// </summary>
internal sealed class FileSystemFile(IFileSystem fileSystem, FsEntry entry, FileNode node) : IOpenFile
{
    private IReadOnlyList<(long Offset, long Length)>? _ranges;
    private int _rangesLoaded;

    public FileNode Node => node;
    public bool IsWritable => false;

    public int Read(Span<byte> buffer, long offset)
    {
        if (offset < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"negative offset {offset}");
        if (offset >= node.Size || buffer.IsEmpty) return 0;
        buffer = buffer[..(int)Math.Min(buffer.Length, node.Size - offset)];
        // A reader may return fewer bytes than asked (e.g. at an extent boundary); the kernel takes a short read as the end.
        int total = 0;
        while (total < buffer.Length)
        {
            int n = fileSystem.Read(entry, buffer[total..], offset + total);
            if (n <= 0) break;
            total += n;
        }
        return total;
    }

    public int Write(ReadOnlySpan<byte> data, long offset) => throw ReadOnly();
    public void Flush() { }
    public void FlushIfDirty() { }
    public void Discard(long offset, long length) => throw ReadOnly();
    public void WriteZeroes(long offset, long length) => throw ReadOnly();

    public long SeekData(long offset) => RangeSeeker.SeekData(Ranges, node.Size, offset);
    public long SeekHole(long offset) => RangeSeeker.SeekHole(Ranges, node.Size, offset);

    /// <summary>The reader's allocated ranges, read once per open file on the first seek.</summary>
    private IReadOnlyList<(long Offset, long Length)>? Ranges
    {
        get
        {
            if (Volatile.Read(ref _rangesLoaded) == 0)
            {
                _ranges = fileSystem.GetAllocatedRanges(entry);
                Volatile.Write(ref _rangesLoaded, 1);
            }
            return _ranges;
        }
    }

    public void Dispose() { }

    private static FileTreeException ReadOnly() => new(FileTreeError.ReadOnly, "the file tree is read-only");
}
