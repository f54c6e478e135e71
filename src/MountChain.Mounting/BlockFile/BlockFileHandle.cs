using MountChain.Core.BlockDevices;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.BlockFile;

/// <summary>
/// An open <c>disk.raw</c>: reads and writes go straight to the device at the requested offset
/// (no buffering, no shared position), so any number of requests can run at once.
/// </summary>
internal sealed class BlockFileHandle(BlockFileTree tree, bool write) : IFileRangeOpenFile
{
    public FileNode Node => tree.FileNode;
    public bool IsWritable { get; } = write;

    private long Length => tree.Device.Length;

    public int Read(Span<byte> buffer, long offset)
    {
        if (offset < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"negative offset {offset}");
        if (offset >= Length) return 0;
        int n = (int)Math.Min(buffer.Length, Length - offset);
        tree.Device.Read(buffer[..n], offset);
        return n;
    }

    public bool TryDescribe(long offset, int length, List<FileRange> output, out int total)
    {
        total = 0;
        if (tree.Device is not IFileRangeSource source || offset < 0) return false;
        if (offset >= Length) return true;
        total = (int)Math.Min(length, Length - offset);
        return source.TryDescribe(offset, total, output);
    }

    public int Write(ReadOnlySpan<byte> data, long offset)
    {
        CheckWritable();
        if (offset < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"negative offset {offset}");
        if (data.IsEmpty) return 0;
        // The disk has a fixed size: a write that starts at the end has nowhere to go.
        if (offset >= Length) throw new FileTreeException(FileTreeError.NoSpace, $"offset {offset} is past the {Length}-byte disk");
        int n = (int)Math.Min(data.Length, Length - offset);
        tree.NoteChanged();
        tree.Device.Write(data[..n], offset);
        return n;
    }

    public void Flush()
    {
        if (tree.CanWrite) tree.Flush();
    }

    public void FlushIfDirty()
    {
        if (tree.CanWrite) tree.FlushIfDirty();
    }

    public void Discard(long offset, long length)
    {
        CheckWritable();
        if (ClampRange(ref offset, ref length)) return;
        tree.NoteChanged();
        tree.Device.Discard(offset, length);
    }

    public void WriteZeroes(long offset, long length)
    {
        CheckWritable();
        if (ClampRange(ref offset, ref length)) return;
        tree.NoteChanged();
        tree.Device.WriteZeroes(offset, length);
    }

    public long SeekData(long offset) => ExtentSeeker.SeekData(tree.Device, offset);
    public long SeekHole(long offset) => ExtentSeeker.SeekHole(tree.Device, offset);

    public void Dispose() { }

    private void CheckWritable()
    {
        if (!tree.CanWrite) throw new FileTreeException(FileTreeError.ReadOnly, "the disk is mounted read-only");
        if (!IsWritable) throw new FileTreeException(FileTreeError.NotPermitted, "the file was opened read-only");
    }

    /// <summary>Cuts the range to the disk; true when nothing is left to do.</summary>
    private bool ClampRange(ref long offset, ref long length)
    {
        if (offset < 0 || length < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"bad range {offset}+{length}");
        if (offset >= Length) return true;
        length = Math.Min(length, Length - offset);
        return length == 0;
    }
}
