using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Volumes;

/// <summary>
/// A read-only window onto part of another device (a partition). Offsets are relative to the
/// window's start; the window never reads outside its own range. Does not own the parent.
/// </summary>
internal sealed class VolumeDevice : IBlockDevice
{
    private readonly IBlockDevice _parent;
    private readonly long _start;

    public VolumeDevice(IBlockDevice parent, long start, long length)
    {
        if (start < 0 || length < 0 || start > parent.Length || length > parent.Length - start)
            throw new PartitionTableException($"partition {start}+{length} lies outside the {parent.Length}-byte disk");
        _parent = parent;
        _start = start;
        Length = length;
    }

    public long Length { get; }
    public bool CanWrite => false;
    /// <summary>How errors name this volume ("p1"), or empty.</summary>
    public string Name { get; init; } = "";

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        _parent.Read(buffer, _start + offset);
    }

    public void Write(ReadOnlySpan<byte> data, long offset) => throw new ReadOnlyDeviceException();
    public void Flush() { }
    public void Discard(long offset, long length) => throw new ReadOnlyDeviceException();
    public void WriteZeroes(long offset, long length) => throw new ReadOnlyDeviceException();

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        var inner = new List<BlockExtent>();
        _parent.GetExtents(_start + offset, length, inner);
        foreach (var e in inner) output.Add(e with { Offset = e.Offset - _start });
    }

    public void Dispose() { }
}
