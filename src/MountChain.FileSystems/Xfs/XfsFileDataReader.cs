using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// Maps file byte ranges through an inode's extent list to the device. Holes and unwritten
/// (preallocated) extents read as zeros. Positional reads only; thread-safe.
/// </summary>
internal sealed class XfsFileDataReader(XfsSuperblock sb, IBlockDevice device, XfsBlockMapReader blockMaps)
{
    public XfsExtent[] GetExtents(XfsInode inode)
    {
        var cached = Volatile.Read(ref inode.CachedExtents);
        if (cached != null) return cached;
        lock (inode)
        {
            return inode.CachedExtents ??= blockMaps.Read(inode);
        }
    }

    /// <summary>Reads up to buffer.Length bytes at <paramref name="offset"/>, clipped to <paramref name="limit"/> (the file size); returns bytes read.</summary>
    public int Read(XfsInode inode, Span<byte> buffer, long offset, long limit)
    {
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset));
        if (offset >= limit || buffer.IsEmpty) return 0;
        int total = (int)Math.Min(buffer.Length, limit - offset);
        buffer = buffer[..total];
        XfsExtent[] extents = GetExtents(inode);
        int blockLog = sb.BlockLog;

        int index = FindFirstEndingAfter(extents, (ulong)offset >> blockLog);
        long position = offset;
        while (!buffer.IsEmpty)
        {
            if (index >= extents.Length)
            {
                buffer.Clear();
                break;
            }
            var e = extents[index];
            long extentStart = (long)(e.FileBlock << blockLog);
            long extentEnd = (long)(e.FileBlockEnd << blockLog);
            if (position < extentStart)
            {
                int gap = (int)Math.Min(buffer.Length, extentStart - position);
                buffer[..gap].Clear();
                buffer = buffer[gap..];
                position += gap;
                continue;
            }
            int run = (int)Math.Min(buffer.Length, extentEnd - position);
            if (e.Unwritten)
            {
                buffer[..run].Clear();
            }
            else
            {
                long physical = sb.BlockAddress(e.StartBlock, e.BlockCount, $"inode {inode.Number} extent") + (position - extentStart);
                if (physical + run > device.Length)
                    throw new FileSystemCorruptException($"XFS inode {inode.Number}: extent data lies beyond the end of the device");
                device.Read(buffer[..run], physical);
            }
            buffer = buffer[run..];
            position += run;
            index++;
        }
        return total;
    }

    /// <summary>Where [offset, offset+length) (inside the file size) lies under the device: holes and unwritten extents are zeros.</summary>
    public bool TryLocate(XfsInode inode, long offset, long length, List<FileRange> output)
    {
        XfsExtent[] extents = GetExtents(inode);
        int blockLog = sb.BlockLog;
        int index = FindFirstEndingAfter(extents, (ulong)offset >> blockLog);
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
                long physical = sb.BlockAddress(e.StartBlock, e.BlockCount, $"inode {inode.Number} extent") + (position - extentStart);
                if (physical + n > device.Length)
                    throw new FileSystemCorruptException($"XFS inode {inode.Number}: extent data lies beyond the end of the device");
                if (!VolumeRanges.TryDescribe(device, physical, n, output)) return false;
            }
            position += n;
            index++;
        }
        return true;
    }

    /// <summary>Index of the first extent whose end lies after <paramref name="fileBlock"/> (binary search over sorted extents).</summary>
    private static int FindFirstEndingAfter(XfsExtent[] extents, ulong fileBlock)
    {
        int lo = 0, hi = extents.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (extents[mid].FileBlockEnd <= fileBlock) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
