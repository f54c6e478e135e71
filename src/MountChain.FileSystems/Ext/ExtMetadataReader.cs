using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Xfs;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// Reads whole file-system blocks of metadata (group descriptors, inode tables, extent and
/// indirect blocks, directories) through a bounded LRU cache of about 4 MiB. Cached arrays are
/// shared: callers never modify them. Thread-safe.
/// </summary>
internal sealed class ExtMetadataReader
{
    private const int CacheBytes = 4 << 20;
    private readonly IBlockDevice _device;
    private readonly ExtSuperblock _sb;
    private readonly BoundedCache<ulong, byte[]> _cache;

    public ExtMetadataReader(IBlockDevice device, ExtSuperblock sb)
    {
        _device = device;
        _sb = sb;
        _cache = new BoundedCache<ulong, byte[]>(Math.Max(64, CacheBytes / sb.BlockSize));
    }

    public IBlockDevice Device => _device;

    /// <param name="what">The structure being read, for the error message ("inode 12 extent tree").</param>
    public byte[] ReadBlock(ulong block, string what)
    {
        if (_cache.TryGet(block, out var hit)) return hit!;
        long offset = _sb.BlockOffset(block, what);
        if (offset > _device.Length - _sb.BlockSize)
            throw new FileSystemCorruptException($"{what}: block {block} lies beyond the end of the volume");
        var buffer = new byte[_sb.BlockSize];
        _device.Read(buffer, offset);
        _cache.Add(block, buffer);
        return buffer;
    }
}
