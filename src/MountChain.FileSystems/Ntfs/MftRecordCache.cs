namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// A bounded LRU of parsed files keyed by MFT record number. Memory: at most <c>capacity</c>
/// files (a few KiB each, resident values included). One lock guards the map and the list; a
/// miss is parsed outside the lock, so two threads may parse the same record once each.
/// </summary>
internal sealed class MftRecordCache(int capacity)
{
    private readonly Dictionary<long, LinkedListNode<NtfsFile>> _map = new();
    private readonly LinkedList<NtfsFile> _order = new();
    private readonly Lock _lock = new();

    public NtfsFile GetOrAdd(long number, Func<long, NtfsFile> load)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(number, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                return node.Value;
            }
        }
        var file = load(number);
        lock (_lock)
        {
            if (_map.TryGetValue(number, out var existing)) return existing.Value;
            _map[number] = _order.AddFirst(file);
            if (_map.Count > capacity)
            {
                var last = _order.Last!;
                _order.RemoveLast();
                _map.Remove(last.Value.Number);
            }
        }
        return file;
    }
}
