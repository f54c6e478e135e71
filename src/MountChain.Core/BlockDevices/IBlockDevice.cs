namespace MountChain.Core.BlockDevices;

/// <summary>
/// The one interface every front-end (CLI, FUSE, NBD, Dokan, file systems) sees. Offsets and
/// lengths are bytes. Implementations are safe for concurrent use by many threads: every call
/// names its offset, no position is shared (design.md rule 1).
/// </summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Size of the virtual disk in bytes.</summary>
    long Length { get; }

    /// <summary>False for a read-only view; Write/Discard/WriteZeroes then throw <see cref="ReadOnlyDeviceException"/>.</summary>
    bool CanWrite { get; }

    /// <summary>Fills <paramref name="buffer"/> with the bytes at <paramref name="offset"/>. The range must lie inside the disk.</summary>
    void Read(Span<byte> buffer, long offset);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> (copy-on-write into the redo log).</summary>
    void Write(ReadOnlySpan<byte> data, long offset);

    /// <summary>Everything written before this call survives a crash once it returns.</summary>
    void Flush();

    /// <summary>Makes the range read as zeros afterwards (TRIM). Never resurrects parent data.</summary>
    void Discard(long offset, long length);

    /// <summary>Writes zeros over the range, allocating as little as possible.</summary>
    void WriteZeroes(long offset, long length);

    /// <summary>
    /// Describes the range as a sequence of contiguous extents in ascending order that exactly cover
    /// [offset, offset+length): allocated data, zeros, or unallocated, and which link serves each.
    /// </summary>
    void GetExtents(long offset, long length, List<BlockExtent> output);

    /// <summary>
    /// The <see cref="BlockExtent.Generation"/> index of the device's own top: the generation presented,
    /// or one more when a redo log is on top of it; null when the device is not a chain (a raw image).
    /// Zeros reported with another index come from below the top (format doc §13.3).
    /// </summary>
    int? TopGeneration => null;
}

/// <summary>What a range of the virtual disk is made of.</summary>
public enum ExtentKind : byte
{
    /// <summary>Data stored in a link (may still happen to contain zero bytes).</summary>
    Data,
    /// <summary>Known zeros: a zeroed grain, a ZERO extent, a discard.</summary>
    Zero,
    /// <summary>No link holds it: reads as zeros (a hole).</summary>
    Unallocated,
}

/// <summary>A contiguous range of the virtual disk with one kind and one serving link.</summary>
/// <param name="Offset">Byte offset in the virtual disk.</param>
/// <param name="Length">Length in bytes.</param>
/// <param name="Kind">Data, zero or hole.</param>
/// <param name="Generation">Index of the link that answers for the range (0 = base), or -1 when no link does.</param>
public readonly record struct BlockExtent(long Offset, long Length, ExtentKind Kind, int Generation);
