namespace MountChain.Core.BlockDevices;

/// <summary>An in-memory disk, for tests and for small synthetic images.</summary>
internal sealed class MemoryBlockDevice(byte[] data, bool writable = true) : IBlockDevice
{
    private readonly byte[] _data = data;

    public long Length => _data.Length;
    public bool CanWrite { get; } = writable;

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        _data.AsSpan((int)offset, buffer.Length).CopyTo(buffer);
    }

    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        if (!CanWrite) throw new ReadOnlyDeviceException();
        BlockDeviceGuard.CheckRange(this, offset, data.Length);
        data.CopyTo(_data.AsSpan((int)offset));
    }

    public void Flush() { }
    public void Discard(long offset, long length) => WriteZeroes(offset, length);

    public void WriteZeroes(long offset, long length)
    {
        if (!CanWrite) throw new ReadOnlyDeviceException();
        BlockDeviceGuard.CheckRange(this, offset, length);
        _data.AsSpan((int)offset, (int)length).Clear();
    }

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        if (length > 0) output.Add(new BlockExtent(offset, length, ExtentKind.Data, 0));
    }

    public void Dispose() { }
}
