using Microsoft.Win32.SafeHandles;

namespace MountChain.Core.BlockDevices;

/// <summary>
/// A raw image file (or a block device node) as an <see cref="IBlockDevice"/>. Used by tests and
/// by the file-system readers on plain images; positional I/O only.
/// </summary>
public sealed class RawFileBlockDevice : IBlockDevice, IFileRangeSource
{
    private readonly SafeFileHandle _handle;

    public RawFileBlockDevice(string path, bool writable = false)
    {
        _handle = File.OpenHandle(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read,
            writable ? FileShare.Read : FileShare.ReadWrite);
        Length = RandomAccess.GetLength(_handle);
        CanWrite = writable;
    }

    public long Length { get; }
    public bool CanWrite { get; }

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        while (!buffer.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, buffer, offset);
            if (n <= 0) { buffer.Clear(); return; }
            buffer = buffer[n..];
            offset += n;
        }
    }

    public bool TryDescribe(long offset, int length, List<FileRange> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        FileRanges.Append(output, new FileRange(_handle, offset, length));
        return true;
    }

    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        if (!CanWrite) throw new ReadOnlyDeviceException();
        BlockDeviceGuard.CheckRange(this, offset, data.Length);
        RandomAccess.Write(_handle, data, offset);
    }

    public void Flush()
    {
        if (CanWrite) RandomAccess.FlushToDisk(_handle);
    }

    public void Discard(long offset, long length) => WriteZeroes(offset, length);

    public void WriteZeroes(long offset, long length)
    {
        if (!CanWrite) throw new ReadOnlyDeviceException();
        BlockDeviceGuard.CheckRange(this, offset, length);
        byte[] zeros = new byte[(int)Math.Min(length, 1 << 20)];
        while (length > 0)
        {
            int n = (int)Math.Min(length, zeros.Length);
            RandomAccess.Write(_handle, zeros.AsSpan(0, n), offset);
            offset += n;
            length -= n;
        }
    }

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        if (length > 0) output.Add(new BlockExtent(offset, length, ExtentKind.Data, 0));
    }

    public void Dispose() => _handle.Dispose();
}
