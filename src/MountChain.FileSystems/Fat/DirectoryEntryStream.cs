using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// The 32-byte entries of a FAT or exFAT directory, read in chunks of at most 64 KiB from the
/// directory's extents on the device (its clusters, or the FAT12/16 root region), each with its
/// byte position on the volume (a stable id for the entry).
/// </summary>
internal sealed class DirectoryEntryStream
{
    public const int EntrySize = 32;
    private const int ChunkSize = 65536;

    private readonly IBlockDevice _device;
    private readonly List<(long Offset, long Length)> _extents;
    private readonly byte[] _chunk;
    private int _extent;
    private long _intoExtent;
    private int _chunkLength, _chunkPosition;
    private long _chunkDeviceOffset;

    public DirectoryEntryStream(IBlockDevice device, List<(long Offset, long Length)> extents)
    {
        _device = device;
        _extents = extents;
        long total = extents.Sum(e => e.Length);
        _chunk = new byte[(int)Math.Min(ChunkSize, Math.Max(EntrySize, total))];
    }

    /// <summary>Directory bytes read so far.</summary>
    public long Consumed { get; private set; }

    /// <summary>The next entry's 32 bytes and volume byte position; false at the end of the extents.</summary>
    public bool Next(out ReadOnlySpan<byte> entry, out long position)
    {
        if (_chunkPosition >= _chunkLength && !Fill())
        {
            entry = default;
            position = -1;
            return false;
        }
        entry = _chunk.AsSpan(_chunkPosition, EntrySize);
        position = _chunkDeviceOffset + _chunkPosition;
        _chunkPosition += EntrySize;
        Consumed += EntrySize;
        return true;
    }

    private bool Fill()
    {
        while (_extent < _extents.Count && _intoExtent >= _extents[_extent].Length)
        {
            _extent++;
            _intoExtent = 0;
        }
        if (_extent >= _extents.Count) return false;
        var (offset, length) = _extents[_extent];
        int n = (int)Math.Min(_chunk.Length, length - _intoExtent) & ~(EntrySize - 1);
        if (n == 0) return false;
        _chunkDeviceOffset = offset + _intoExtent;
        _device.Read(_chunk.AsSpan(0, n), _chunkDeviceOffset);
        _intoExtent += n;
        _chunkLength = n;
        _chunkPosition = 0;
        return true;
    }

    /// <summary>The device extents of the clusters in <paramref name="runs"/>, cut at <paramref name="length"/> bytes.</summary>
    public static List<(long Offset, long Length)> Extents(ClusterHeap heap, ClusterRuns runs, long length)
    {
        var extents = new List<(long, long)>(runs.RunCount);
        long left = length;
        foreach (var (first, count) in runs.All())
        {
            if (left <= 0) break;
            long bytes = Math.Min(left, (long)count << heap.ClusterShift);
            extents.Add((heap.OffsetOf(first), bytes));
            left -= bytes;
        }
        return extents;
    }
}
