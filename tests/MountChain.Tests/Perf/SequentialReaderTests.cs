using MountChain.Cli.Infrastructure;
using MountChain.Core.BlockDevices;

namespace MountChain.Tests.Perf;

/// <summary>The parallel read-ahead behind `cat`, `hash` and `bench`: order, coverage, errors.</summary>
public class SequentialReaderTests
{
    private static byte[] Pattern(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(512)]
    [InlineData(SequentialReader.BlockSize - 512)]
    [InlineData(SequentialReader.BlockSize)]
    [InlineData(SequentialReader.BlockSize * 7 + 4096)]
    public void Blocks_arrive_in_order_and_cover_the_range_exactly(int length)
    {
        var data = Pattern(length);
        using var output = new MemoryStream();
        long expectedOffset = 0;
        SequentialReader.ReadAll(new MemoryBlockDevice(data, writable: false), 0, length, (block, offset) =>
        {
            Assert.Equal(expectedOffset, offset);
            output.Write(block.Span);
            expectedOffset += block.Length;
        });
        Assert.Equal(data, output.ToArray());
    }

    [Fact]
    public void A_range_inside_the_device_is_read_from_its_offset()
    {
        var data = Pattern(SequentialReader.BlockSize * 3);
        using var output = new MemoryStream();
        SequentialReader.ReadAll(new MemoryBlockDevice(data, writable: false), 1536, SequentialReader.BlockSize * 2, (block, _) => output.Write(block.Span));
        Assert.Equal(data.AsSpan(1536, SequentialReader.BlockSize * 2).ToArray(), output.ToArray());
    }

    [Fact]
    public void An_empty_range_calls_nothing()
    {
        int calls = 0;
        SequentialReader.ReadAll(new MemoryBlockDevice(new byte[4096], writable: false), 0, 0, (_, _) => calls++);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void A_read_error_surfaces_after_the_blocks_before_it_without_hanging()
    {
        var device = new FailingDevice(SequentialReader.BlockSize * 9L, failAt: SequentialReader.BlockSize * 5L);
        var seen = new List<long>();
        var error = Assert.Throws<IOException>(() =>
            SequentialReader.ReadAll(device, 0, device.Length, (_, offset) => seen.Add(offset)));
        Assert.Contains("boom", error.Message);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i * SequentialReader.BlockSize), seen);
    }

    [Fact]
    public void A_consumer_error_stops_the_readers()
    {
        var device = new MemoryBlockDevice(new byte[SequentialReader.BlockSize * 16], writable: false);
        var error = Assert.Throws<InvalidOperationException>(() =>
            SequentialReader.ReadAll(device, 0, device.Length, (_, offset) =>
            {
                if (offset == SequentialReader.BlockSize) throw new InvalidOperationException("consumer gave up");
            }));
        Assert.Equal("consumer gave up", error.Message);
    }

    /// <summary>Zeros everywhere except that a read touching <c>failAt</c> throws.</summary>
    private sealed class FailingDevice(long length, long failAt) : IBlockDevice
    {
        public long Length => length;
        public bool CanWrite => false;
        public void Read(Span<byte> buffer, long offset)
        {
            if (offset <= failAt && failAt < offset + buffer.Length) throw new IOException($"boom at {offset}");
            buffer.Clear();
        }
        public void Write(ReadOnlySpan<byte> data, long offset) => throw new ReadOnlyDeviceException();
        public void Flush() { }
        public void Discard(long offset, long length) => throw new ReadOnlyDeviceException();
        public void WriteZeroes(long offset, long length) => throw new ReadOnlyDeviceException();
        public void GetExtents(long offset, long length, List<BlockExtent> output) => output.Add(new BlockExtent(offset, length, ExtentKind.Data, 0));
        public void Dispose() { }
    }
}
