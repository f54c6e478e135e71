using MountChain.Core.BlockDevices;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting.BlockFile;

/// <summary>
/// SEEK_DATA / SEEK_HOLE (lseek(2)) over a device's extents. Only <see cref="ExtentKind.Data"/>
/// counts as data: known-zero and unallocated ranges both read as zeros, which is what a hole is.
/// The end of the file is an implicit hole.
/// </summary>
public static class ExtentSeeker
{
    private const long FirstWindow = 64L << 20;
    private const long LargestWindow = 64L << 30;

    public static long SeekData(IBlockDevice device, long offset) =>
        FirstAtOrAfter(device, offset, data: true)
        ?? throw new FileTreeException(FileTreeError.NoData, $"no data at or after offset {offset}");

    public static long SeekHole(IBlockDevice device, long offset) =>
        FirstAtOrAfter(device, offset, data: false) ?? device.Length;

    /// <summary>The first offset ≥ <paramref name="offset"/> in a data (or non-data) extent, asking for ever larger windows; null when none.</summary>
    private static long? FirstAtOrAfter(IBlockDevice device, long offset, bool data)
    {
        CheckOffset(device, offset);
        var extents = new List<BlockExtent>();
        long window = FirstWindow;
        for (long start = offset; start < device.Length; start += window, window = Math.Min(window * 2, LargestWindow))
        {
            extents.Clear();
            device.GetExtents(start, Math.Min(window, device.Length - start), extents);
            foreach (var e in extents)
                if ((e.Kind == ExtentKind.Data) == data && e.Length > 0)
                    return Math.Max(e.Offset, offset);
        }
        return null;
    }

    // lseek(2): SEEK_DATA/SEEK_HOLE at or past the end fail with ENXIO.
    private static void CheckOffset(IBlockDevice device, long offset)
    {
        if (offset < 0) throw new FileTreeException(FileTreeError.InvalidArgument, $"negative offset {offset}");
        if (offset >= device.Length) throw new FileTreeException(FileTreeError.NoData, $"offset {offset} is at or past the end");
    }
}
