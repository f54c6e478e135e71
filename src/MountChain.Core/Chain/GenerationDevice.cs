using MountChain.Core.BlockDevices;
using MountChain.Core.Formats;
using MountChain.Core.Mapping;

namespace MountChain.Core.Chain;

/// <summary>A generation of a chain as a read-only <see cref="IBlockDevice"/>, served from its <see cref="GrainMap"/>.</summary>
public sealed class GenerationDevice : IBlockDevice, IFileRangeSource
{
    internal GenerationDevice(GrainMap map)
    {
        Map = map;
        Length = map.CapacitySectors * Sector.Size;
    }

    internal GrainMap Map { get; }
    public long Length { get; }
    public bool CanWrite => false;
    /// <summary>The generation presented: the map holds links 0 … g.</summary>
    public int? TopGeneration => Map.Links.Count - 1;

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        Map.Read(buffer, offset);
    }

    public bool TryDescribe(long offset, int length, List<FileRange> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        return Map.TryDescribe(offset, length, output);
    }

    public void Write(ReadOnlySpan<byte> data, long offset) => throw new ReadOnlyDeviceException();
    public void Flush() { }
    public void Discard(long offset, long length) => throw new ReadOnlyDeviceException();
    public void WriteZeroes(long offset, long length) => throw new ReadOnlyDeviceException();

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        if (length == 0) return;
        long end = offset + length;
        Map.VisitRuns(offset >> Sector.Shift, (end + Sector.Size - 1) >> Sector.Shift, run =>
        {
            var kind = run.Kind switch
            {
                PieceKind.Data or PieceKind.Compressed => ExtentKind.Data,
                PieceKind.Zero => ExtentKind.Zero,
                _ => ExtentKind.Unallocated,
            };
            long s = Math.Max(run.Start << Sector.Shift, offset), e = Math.Min(run.End << Sector.Shift, end);
            ExtentMerger.Append(output, new BlockExtent(s, e - s, kind, run.Generation));
        });
    }

    /// <summary>The generation does not own the links; the chain disposes them.</summary>
    public void Dispose() { }
}
