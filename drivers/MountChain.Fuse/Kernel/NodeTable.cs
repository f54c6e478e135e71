using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// The kernel names nodes by 64-bit ids it learned from LOOKUP replies; our trees name them by path.
/// This table maps one to the other and keeps each id while the kernel holds lookups on it
/// (every LOOKUP reply adds one, FORGET subtracts; the root is never forgotten). Its size is
/// bounded by the kernel's inode cache. Safe for concurrent use; one lock, held only for
/// dictionary updates.
/// </summary>
internal sealed class NodeTable
{
    private sealed class Entry(string path)
    {
        public readonly string Path = path;
        public long Lookups;
    }

    private readonly object _gate = new();
    private readonly Dictionary<ulong, Entry> _byId = new();
    private readonly Dictionary<string, ulong> _byPath = new(StringComparer.Ordinal);
    private ulong _nextId = FuseConstants.RootNodeId + 1;

    public NodeTable()
    {
        _byId[FuseConstants.RootNodeId] = new Entry(TreePath.Root) { Lookups = 1 };
        _byPath[TreePath.Root] = FuseConstants.RootNodeId;
    }

    /// <summary>The path of a node id the kernel sent, or null for an id it should not know.</summary>
    public string? PathOf(ulong nodeId)
    {
        lock (_gate) return _byId.TryGetValue(nodeId, out var e) ? e.Path : null;
    }

    /// <summary>The id for <paramref name="path"/>, counting one more kernel lookup on it.</summary>
    public ulong Remember(string path)
    {
        lock (_gate)
        {
            if (!_byPath.TryGetValue(path, out ulong id))
            {
                id = _nextId++;
                _byPath[path] = id;
                _byId[id] = new Entry(path);
            }
            _byId[id].Lookups++;
            return id;
        }
    }

    /// <summary>The kernel dropped <paramref name="count"/> lookups of the node; at zero the id is gone.</summary>
    public void Forget(ulong nodeId, ulong count)
    {
        if (nodeId == FuseConstants.RootNodeId) return;
        lock (_gate)
        {
            if (!_byId.TryGetValue(nodeId, out var e)) return;
            e.Lookups -= (long)Math.Min(count, long.MaxValue);
            if (e.Lookups > 0) return;
            _byId.Remove(nodeId);
            _byPath.Remove(e.Path);
        }
    }

    public int Count
    {
        get { lock (_gate) return _byId.Count; }
    }
}
