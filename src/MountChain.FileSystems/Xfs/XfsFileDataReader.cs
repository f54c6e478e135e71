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

        int index = FileExtents.FirstEndingAfter(extents, (ulong)offset >> blockLog);
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
    public bool TryLocate(XfsInode inode, long offset, long length, List<FileRange> output) =>
        FileExtents.TryLocate(GetExtents(inode), sb.BlockLog, device, offset, length,
            e => sb.BlockAddress(e.StartBlock, e.BlockCount, $"inode {inode.Number} extent"),
            _ => $"XFS inode {inode.Number}: extent data lies beyond the end of the device", output);
}
