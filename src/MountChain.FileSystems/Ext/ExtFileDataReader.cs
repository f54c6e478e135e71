using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// Reads file bytes through the block map: holes (no run) and unwritten extents read as zeros,
/// including a hole at the tail (size beyond the last run). Adjacent runs that are contiguous on
/// disk are read with one device call. Positional reads only; thread-safe.
/// </summary>
internal sealed class ExtFileDataReader(ExtSuperblock sb, IBlockDevice device, ExtBlockMapper mapper)
{
    public ExtRun[] GetRuns(ExtInode inode)
    {
        var cached = Volatile.Read(ref inode.CachedRuns);
        if (cached != null) return cached;
        lock (inode) return inode.CachedRuns ??= mapper.Map(inode);
    }

    public int Read(ExtInode inode, Span<byte> buffer, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        long limit = inode.Size;
        if (offset >= limit || buffer.IsEmpty) return 0;
        int total = (int)Math.Min(buffer.Length, limit - offset);
        buffer = buffer[..total];
        var runs = GetRuns(inode);
        int log = sb.BlockLog;
        int index = FirstEndingAfter(runs, (ulong)offset >> log);
        long position = offset;
        while (!buffer.IsEmpty)
        {
            if (index >= runs.Length) { buffer.Clear(); break; }
            var r = runs[index];
            long runStart = (long)(r.FileBlock << log), runEnd = (long)(r.FileBlockEnd << log);
            if (position < runStart)
            {
                int gap = (int)Math.Min(buffer.Length, runStart - position);
                buffer[..gap].Clear();
                buffer = buffer[gap..];
                position += gap;
                continue;
            }
            if (r.Unwritten)
            {
                int n = (int)Math.Min(buffer.Length, runEnd - position);
                buffer[..n].Clear();
                buffer = buffer[n..];
                position += n;
                index++;
                continue;
            }
            // Merge following runs that continue both in the file and on the disk into one read.
            long physical = (long)(r.Physical << log) + (position - runStart);
            long diskEnd = (long)((r.Physical + r.Count) << log);
            int last = index;
            while (last + 1 < runs.Length && runEnd - position < buffer.Length)
            {
                var next = runs[last + 1];
                if (next.Unwritten || (long)(next.FileBlock << log) != runEnd || (long)(next.Physical << log) != diskEnd) break;
                runEnd = (long)(next.FileBlockEnd << log);
                diskEnd = (long)((next.Physical + next.Count) << log);
                last++;
            }
            int count = (int)Math.Min(buffer.Length, runEnd - position);
            if (physical + count > device.Length)
                throw new FileSystemCorruptException($"ext inode {inode.Number}: data at byte {physical} lies beyond the end of the volume");
            device.Read(buffer[..count], physical);
            buffer = buffer[count..];
            position += count;
            index = position >= runEnd ? last + 1 : last;
        }
        return total;
    }

    /// <summary>Where [offset, offset+length) (inside the file size) lies under the device: holes and unwritten extents are zeros.</summary>
    public bool TryLocate(ExtInode inode, long offset, long length, List<FileRange> output)
    {
        var runs = GetRuns(inode);
        int log = sb.BlockLog;
        int index = FirstEndingAfter(runs, (ulong)offset >> log);
        long position = offset, end = offset + length;
        while (position < end)
        {
            if (index >= runs.Length) { VolumeRanges.Zeros(output, end - position); break; }
            var r = runs[index];
            long runStart = (long)(r.FileBlock << log), runEnd = (long)(r.FileBlockEnd << log);
            if (position < runStart)
            {
                long gap = Math.Min(end, runStart) - position;
                VolumeRanges.Zeros(output, gap);
                position += gap;
                continue;
            }
            long n = Math.Min(end, runEnd) - position;
            if (r.Unwritten) VolumeRanges.Zeros(output, n);
            else
            {
                long physical = (long)(r.Physical << log) + (position - runStart);
                if (physical + n > device.Length)
                    throw new FileSystemCorruptException($"ext inode {inode.Number}: data at byte {physical} lies beyond the end of the volume");
                if (!VolumeRanges.TryDescribe(device, physical, n, output)) return false;
            }
            position += n;
            index++;
        }
        return true;
    }

    /// <summary>Index of the first run ending after <paramref name="fileBlock"/> (runs are sorted).</summary>
    private static int FirstEndingAfter(ExtRun[] runs, ulong fileBlock)
    {
        int lo = 0, hi = runs.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (runs[mid].FileBlockEnd <= fileBlock) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
