using MountChain.Core.BlockDevices;

namespace MountChain.Fuzz.Harness;

/// <summary>A read-only block device over a decoded <see cref="SparseImage"/> (a disk or a volume).</summary>
public sealed class SparseMemoryDevice(SparseSectors sectors) : IBlockDevice
{
    public long Length => sectors.Length;
    public bool CanWrite => false;

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        sectors.Read(buffer, offset);
    }

    public void Write(ReadOnlySpan<byte> data, long offset) => throw new ReadOnlyDeviceException();
    public void Flush() { }
    public void Discard(long offset, long length) => throw new ReadOnlyDeviceException();
    public void WriteZeroes(long offset, long length) => throw new ReadOnlyDeviceException();

    public void GetExtents(long offset, long length, List<BlockExtent> output) =>
        output.Add(new BlockExtent(offset, length, ExtentKind.Data, 0));

    public void Dispose() { }
}
