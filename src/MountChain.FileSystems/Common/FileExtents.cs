using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Common;

/// <summary>
/// One extent of a file's block map as ext and XFS keep it: file blocks [FileBlock, FileBlockEnd),
/// written somewhere on the volume or unwritten (reads as zeros). Blocks no extent covers are holes.
/// </summary>
internal interface IFileExtent
{
    ulong FileBlock { get; }
    ulong FileBlockEnd { get; }
    bool Unwritten { get; }
}

/// <summary>Searches and locates through a file's extents sorted by file block (ext runs, XFS block maps).</summary>
internal static class FileExtents
{
    /// <summary>Index of the first extent ending after <paramref name="fileBlock"/> (binary search).</summary>
    public static int FirstEndingAfter<T>(T[] extents, ulong fileBlock) where T : IFileExtent
    {
        int lo = 0, hi = extents.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (extents[mid].FileBlockEnd <= fileBlock) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// Where [offset, offset+length) (inside the file size) lies under the device: holes and
    /// unwritten extents are zeros. <paramref name="volumeByte"/> is a written extent's first byte on
    /// the volume (it may refuse a bad one); data past the volume's end throws <paramref name="beyondEnd"/>'s
    /// message. False when the device cannot say where its bytes lie.
    /// </summary>
    public static bool TryLocate<T>(T[] extents, int blockLog, IBlockDevice device, long offset, long length,
        Func<T, long> volumeByte, Func<long, string> beyondEnd, List<FileRange> output) where T : IFileExtent
    {
        int index = FirstEndingAfter(extents, (ulong)offset >> blockLog);
        long position = offset, end = offset + length;
        while (position < end)
        {
            if (index >= extents.Length) { VolumeRanges.Zeros(output, end - position); break; }
            var e = extents[index];
            long extentStart = (long)(e.FileBlock << blockLog), extentEnd = (long)(e.FileBlockEnd << blockLog);
            if (position < extentStart)
            {
                long gap = Math.Min(end, extentStart) - position;
                VolumeRanges.Zeros(output, gap);
                position += gap;
                continue;
            }
            long n = Math.Min(end, extentEnd) - position;
            if (e.Unwritten) VolumeRanges.Zeros(output, n);
            else
            {
                long physical = volumeByte(e) + (position - extentStart);
                if (physical + n > device.Length) throw new FileSystemCorruptException(beyondEnd(physical));
                if (!VolumeRanges.TryDescribe(device, physical, n, output)) return false;
            }
            position += n;
            index++;
        }
        return true;
    }
}
