using Microsoft.Win32.SafeHandles;

namespace MountChain.Core.Formats;

/// <summary>A ZERO extent line: no file, every sector reads as zero (format doc §6.1).</summary>
internal sealed class ZeroExtent(long sectors) : IExtent
{
    public string? FilePath => null;
    public long Sectors { get; } = sectors;
    public long GrainSectors => 1;
    public SafeFileHandle? Handle => null;

    public void Map(long start, long count, List<ExtentPiece> output) =>
        output.Add(new ExtentPiece(start, count, PieceKind.Zero));

    public void ReadData(Span<byte> buffer, long fileOffset) => buffer.Clear();

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset) => buffer.Clear();

    public void Dispose() { }
}
