using MountChain.Mounting.Trees;

namespace MountChain.Mounting.FileTree;

/// <summary>
/// SEEK_DATA / SEEK_HOLE (lseek(2)) over a file's allocated ranges as a reader reports them
/// (sorted, non-overlapping). Everything outside the ranges reads as zeros; the file's end counts
/// as a hole.
/// </summary>
public static class RangeSeeker
{
    public static long SeekData(IReadOnlyList<(long Offset, long Length)>? ranges, long size, long offset)
    {
        if (offset < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"negative offset {offset}");
        if (offset >= size) throw new FileTreeException(FileTreeError.NoData, $"no data at or after offset {offset}");
        if (ranges is null) return offset;
        foreach (var (start, length) in ranges)
        {
            long end = Math.Min(start + length, size);
            if (end <= offset) continue;
            if (start >= size) break;
            return Math.Max(start, offset);
        }
        throw new FileTreeException(FileTreeError.NoData, $"no data at or after offset {offset}");
    }

    public static long SeekHole(IReadOnlyList<(long Offset, long Length)>? ranges, long size, long offset)
    {
        if (offset < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"negative offset {offset}");
        if (offset >= size) throw new FileTreeException(FileTreeError.NoData, $"offset {offset} is past the end");
        if (ranges is null) return size;
        long position = offset;
        foreach (var (start, length) in ranges)
        {
            long end = start + length;
            if (end <= position) continue;
            if (start > position) break;   // position lies in the gap before this range
            position = end;                // inside (or touching) this range: skip to its end
        }
        return Math.Min(position, size);
    }
}
