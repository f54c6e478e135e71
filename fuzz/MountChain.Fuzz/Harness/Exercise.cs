using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Operations;

namespace MountChain.Fuzz.Harness;

/// <summary>
/// Uses what a parser returned the way the commands do (map, hash, ls -r, cat-file, readlink), in
/// bounded amounts, so that lazily parsed structures (grain tables, directories, runlists) are reached.
/// </summary>
public static class Exercise
{
    private const int MaxEntries = 400;
    private const long MaxBytesPerFile = 1 << 20;
    private const long MaxBytesTotal = 8 << 20;

    /// <summary>
    /// Asks for extents window by window, as NBD block status and map do, and reads the data ranges:
    /// the first 64 windows of 64 MiB and the last one, at most 8 MiB of data.
    /// </summary>
    public static void Device(IBlockDevice device)
    {
        const long Window = 64L << 20;
        var extents = new List<BlockExtent>();
        var buffer = new byte[64 * 1024];
        long budget = MaxBytesTotal;
        long windows = (device.Length + Window - 1) / Window;
        for (long w = 0; w < windows && budget > 0; w = w < 63 ? w + 1 : Math.Max(w + 1, windows - 1))
        {
            long start = w * Window, length = Math.Min(Window, device.Length - start);
            extents.Clear();
            device.GetExtents(start, length, extents);
            foreach (var e in extents)
            {
                if (e.Kind != ExtentKind.Data) continue;
                for (long at = e.Offset; at < e.Offset + e.Length && budget > 0; at += buffer.Length)
                {
                    int n = (int)Math.Min(buffer.Length, e.Offset + e.Length - at);
                    device.Read(buffer.AsSpan(0, n), at);
                    budget -= n;
                }
                if (budget <= 0) break;
            }
        }
        // The last sector too: tables often end there.
        if (device.Length >= 512) device.Read(buffer.AsSpan(0, 512), device.Length - 512);
    }

    /// <summary>Walks the tree, reads files and link targets, looks paths up again.</summary>
    public static void FileSystem(IFileSystem fs)
    {
        _ = fs.Label;
        var buffer = new byte[64 * 1024];
        long budget = MaxBytesTotal;
        int seen = 0;
        foreach (var entry in TreeWalker.Walk(fs, fs.Root, recursive: true))
        {
            if (++seen > MaxEntries) break;
            switch (entry.Type)
            {
                case FsEntryType.File:
                    _ = fs.GetAllocatedRanges(entry);
                    for (long at = 0; at < Math.Min(entry.Size, MaxBytesPerFile) && budget > 0;)
                    {
                        int n = fs.Read(entry, buffer, at);
                        if (n <= 0) break;
                        at += n;
                        budget -= n;
                    }
                    break;
                case FsEntryType.Symlink:
                    _ = fs.ReadLink(entry);
                    break;
            }
            if (seen % 8 == 0) _ = fs.Lookup(entry.Path);
        }
        _ = fs.Lookup("/no/such/path");
    }
}
