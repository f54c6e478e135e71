using System.Collections.Concurrent;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// Open files and directories by the 64-bit handle (fh) the kernel echoes back in every request
/// on them. Lookups are lock-free and allocation-free: the read path calls <see cref="TryGet"/>
/// once per request.
/// </summary>
internal sealed class HandleTable<T> where T : class
{
    private readonly ConcurrentDictionary<ulong, T> _open = new();
    private long _next;

    public ulong Add(T value)
    {
        ulong handle = (ulong)Interlocked.Increment(ref _next);
        _open[handle] = value;
        return handle;
    }

    public T? TryGet(ulong handle) => _open.TryGetValue(handle, out var value) ? value : null;

    public T? Remove(ulong handle) => _open.TryRemove(handle, out var value) ? value : null;

    /// <summary>Everything still open (the mount went away without RELEASE for each).</summary>
    public List<T> TakeAll()
    {
        var all = new List<T>();
        foreach (var key in _open.Keys)
            if (_open.TryRemove(key, out var value)) all.Add(value);
        return all;
    }
}
