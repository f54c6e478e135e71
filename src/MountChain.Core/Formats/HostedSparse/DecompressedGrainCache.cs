namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// A few recently decompressed grains, so sequential small reads inside one grain decompress it once.
/// Keyed by marker offset and grain LBA together: an entry naming another grain's marker must miss
/// and be refused by the marker check (§10.2 item 13), not be served the other grain's bytes.
/// </summary>
internal sealed class DecompressedGrainCache(int capacity)
{
    private readonly (long Marker, long Lba)[] _keys = Enumerable.Repeat((-1L, -1L), capacity).ToArray();
    private readonly byte[]?[] _values = new byte[capacity][];
    private int _next;
    private readonly Lock _lock = new();

    public byte[]? Get(long marker, long lba)
    {
        lock (_lock)
        {
            for (int i = 0; i < _keys.Length; i++)
                if (_keys[i] == (marker, lba)) return _values[i];
        }
        return null;
    }

    public void Put(long marker, long lba, byte[] value)
    {
        lock (_lock)
        {
            _keys[_next] = (marker, lba);
            _values[_next] = value;
            _next = (_next + 1) % _keys.Length;
        }
    }
}
