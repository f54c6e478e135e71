using MountChain.Core.BlockDevices;

namespace MountChain.Tests.Nbd;

/// <summary>
/// Front-end test double: a read-only disk described as consecutive segments of data, zeros and
/// holes, each naming the generation that serves it, like a chain's grain map would. Data segments
/// hold random bytes; the others read as zeros. Lets NBD tests check block status without Core.
/// </summary>
public sealed class LayeredTestDevice : IBlockDevice
{
    public readonly record struct Segment(long Length, ExtentKind Kind, int Generation);

    private readonly byte[] _data;
    private readonly List<BlockExtent> _extents = [];

    public LayeredTestDevice(IEnumerable<Segment> segments, int seed = 7)
    {
        long offset = 0;
        foreach (var s in segments)
        {
            _extents.Add(new BlockExtent(offset, s.Length, s.Kind, s.Generation));
            offset += s.Length;
        }
        _data = new byte[offset];
        var random = new Random(seed);
        foreach (var e in _extents.Where(e => e.Kind == ExtentKind.Data))
            random.NextBytes(_data.AsSpan((int)e.Offset, (int)e.Length));
    }

    public IReadOnlyList<BlockExtent> Extents => _extents;
    public ReadOnlySpan<byte> Content => _data;
    public long Length => _data.Length;
    public bool CanWrite => false;

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        _data.AsSpan((int)offset, buffer.Length).CopyTo(buffer);
    }

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        long end = offset + length;
        foreach (var e in _extents)
        {
            long start = Math.Max(e.Offset, offset), stop = Math.Min(e.Offset + e.Length, end);
            if (start < stop) output.Add(e with { Offset = start, Length = stop - start });
        }
    }

    public void Write(ReadOnlySpan<byte> data, long offset) => throw new ReadOnlyDeviceException();
    public void Flush() { }
    public void Discard(long offset, long length) => throw new ReadOnlyDeviceException();
    public void WriteZeroes(long offset, long length) => throw new ReadOnlyDeviceException();
    public void Dispose() { }
}
