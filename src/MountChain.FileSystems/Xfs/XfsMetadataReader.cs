using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// Reads file-system-block-sized metadata (inode clusters, btree blocks) through a small bounded
/// LRU cache. Cached arrays are shared and must be treated as read-only. Thread-safe.
/// </summary>
internal sealed class XfsMetadataReader(IBlockDevice device, int blockSize, int capacity = 1024)
{
    private readonly BoundedCache<long, byte[]> _cache = new(capacity);

    public IBlockDevice Device => device;

    public byte[] ReadBlock(long byteOffset) => Read(byteOffset, blockSize);

    /// <summary>Reads <paramref name="length"/> bytes at <paramref name="byteOffset"/>, cached by (offset) for block-sized reads.</summary>
    public byte[] Read(long byteOffset, int length)
    {
        if (length == blockSize && _cache.TryGet(byteOffset, out byte[]? hit)) return hit!;
        if (byteOffset < 0 || length > device.Length - byteOffset)
            throw new FileSystemCorruptException($"XFS: metadata at byte {byteOffset} (+{length}) lies beyond the end of the device");
        var buffer = new byte[length];
        device.Read(buffer, byteOffset);
        if (length == blockSize) _cache.Add(byteOffset, buffer);
        return buffer;
    }
}

/// <summary>A fixed-capacity least-recently-used map guarded by one lock.</summary>
internal sealed class BoundedCache<TKey, TValue>(int capacity) where TKey : notnull
{
    private readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value)>> _map = new();
    private readonly LinkedList<(TKey Key, TValue Value)> _order = new();
    private readonly Lock _lock = new();

    public bool TryGet(TKey key, out TValue? value)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    public void Add(TKey key, TValue value)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var existing)) _order.Remove(existing);
            var node = _order.AddFirst((key, value));
            _map[key] = node;
            while (_map.Count > capacity)
            {
                var last = _order.Last!;
                _order.RemoveLast();
                _map.Remove(last.Value.Key);
            }
        }
    }
}
