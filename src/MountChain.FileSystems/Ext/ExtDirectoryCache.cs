namespace MountChain.FileSystems.Ext;

/// <summary>
/// Recently read directories' entries, least recently used first out, bounded by the memory their
/// names take (not by a count: one directory may hold millions of long names). Thread-safe.
/// </summary>
internal sealed class ExtDirectoryCache(long budgetBytes)
{
    private readonly Dictionary<uint, LinkedListNode<(uint Inode, List<ExtDirEntry> Entries, long Cost)>> _map = new();
    private readonly LinkedList<(uint Inode, List<ExtDirEntry> Entries, long Cost)> _order = new();
    private readonly Lock _lock = new();
    private long _used;

    public bool TryGet(uint inode, out List<ExtDirEntry>? entries)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(inode, out var node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                entries = node.Value.Entries;
                return true;
            }
        }
        entries = null;
        return false;
    }

    /// <summary>Keeps <paramref name="entries"/> unless they alone take more than a quarter of the budget.</summary>
    public void Add(uint inode, List<ExtDirEntry> entries)
    {
        long cost = 64 + entries.Sum(e => 48L + 2L * e.Name.Length);
        if (cost > budgetBytes / 4) return;
        lock (_lock)
        {
            if (_map.Remove(inode, out var existing))
            {
                _order.Remove(existing);
                _used -= existing.Value.Cost;
            }
            _map[inode] = _order.AddFirst((inode, entries, cost));
            _used += cost;
            while (_used > budgetBytes && _order.Last is { } last)
            {
                _order.RemoveLast();
                _map.Remove(last.Value.Inode);
                _used -= last.Value.Cost;
            }
        }
    }
}
