namespace MountChain.Core.Formats.HostedSparse;

/// <summary>A few recently decompressed grains, so sequential small reads inside one grain decompress it once.</summary>
internal sealed class DecompressedGrainCache(int capacity)
{
    private readonly long[] _keys = Enumerable.Repeat(-1L, capacity).ToArray();
    private readonly byte[]?[] _values = new byte[capacity][];
    private int _next;
    private readonly Lock _lock = new();

    public byte[]? Get(long key)
    {
        lock (_lock)
        {
            for (int i = 0; i < _keys.Length; i++)
                if (_keys[i] == key) return _values[i];
        }
        return null;
    }

    public void Put(long key, byte[] value)
    {
        lock (_lock)
        {
            _keys[_next] = key;
            _values[_next] = value;
            _next = (_next + 1) % _keys.Length;
        }
    }
}
