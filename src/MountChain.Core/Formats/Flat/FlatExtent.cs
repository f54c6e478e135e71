using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.Flat;

/// <summary>
/// A FLAT or VMFS extent: the extent's sectors are the file's sectors starting at
/// <c>offset</c> (format doc §6.1). The file is opened read-only and must be long enough.
/// </summary>
internal sealed class FlatExtent : IExtent
{
    private readonly long _baseByte;

    public FlatExtent(string path, long sectors, long offsetSectors)
    {
        FilePath = path;
        Sectors = sectors;
        _baseByte = offsetSectors * Sector.Size;
        Handle = FileOpening.OpenReadOnly(path);
        long length = RandomAccess.GetLength(Handle);
        if (length < _baseByte + sectors * Sector.Size)
        {
            Handle.Dispose();
            throw new CorruptMetadataException(path,
                $"flat extent is {length} bytes but its descriptor line needs {_baseByte + sectors * Sector.Size} (offset {offsetSectors} + {sectors} sectors)");
        }
    }

    public string? FilePath { get; }
    public long Sectors { get; }
    public long GrainSectors => 1;
    public SafeFileHandle? Handle { get; }

    public void Map(long start, long count, List<ExtentPiece> output) =>
        output.Add(new ExtentPiece(start, count, PieceKind.Data, _baseByte + start * Sector.Size));

    public void ReadData(Span<byte> buffer, long fileOffset) => FileOpening.ReadExactly(Handle!, buffer, fileOffset, FilePath!);

    public void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset) =>
        throw new InvalidOperationException("flat extents hold no compressed grains");

    public void Dispose() => Handle!.Dispose();
}
