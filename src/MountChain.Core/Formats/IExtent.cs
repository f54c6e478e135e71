using Microsoft.Win32.SafeHandles;

namespace MountChain.Core.Formats;

/// <summary>What one piece of an extent's address space resolves to.</summary>
internal enum PieceKind : byte
{
    /// <summary>Raw bytes at <see cref="ExtentPiece.FileOffset"/> in the extent's <see cref="IExtent.Handle"/>.</summary>
    Data,
    /// <summary>One compressed grain whose marker starts at <see cref="ExtentPiece.FileOffset"/> (format doc §3).</summary>
    Compressed,
    /// <summary>Reads as zeros, whatever the links below hold (zeroed grain, ZERO extent).</summary>
    Zero,
    /// <summary>Not present in this link: the link below answers (or zeros at the base).</summary>
    Unallocated,
}

/// <summary>A run of sectors [Start, Start+Count) of one extent, all resolved the same way.</summary>
/// <param name="Start">First sector, relative to the extent.</param>
/// <param name="FileOffset">Byte offset of <paramref name="Start"/> in the file (Data), or of the grain marker (Compressed).</param>
/// <param name="GrainStart">For Compressed: the extent-relative sector the grain begins at.</param>
internal readonly record struct ExtentPiece(long Start, long Count, PieceKind Kind, long FileOffset = 0, long GrainStart = 0);

/// <summary>
/// A readable extent of one link (format doc §6.1): it maps its own sectors to pieces and reads
/// data for them. Implementations are immutable after open and safe for concurrent use.
/// </summary>
internal interface IExtent : IDisposable
{
    /// <summary>The file this extent reads (for messages), or null for ZERO.</summary>
    string? FilePath { get; }

    /// <summary>Length in sectors.</summary>
    long Sectors { get; }

    /// <summary>Grain size in sectors (1 for flat/zero extents: any granularity).</summary>
    long GrainSectors { get; }

    /// <summary>Appends, in order, pieces that exactly cover [start, start+count) of this extent.</summary>
    void Map(long start, long count, List<ExtentPiece> output);

    /// <summary>Reads <paramref name="buffer"/>.Length bytes of raw file data at <paramref name="fileOffset"/>.</summary>
    void ReadData(Span<byte> buffer, long fileOffset);

    /// <summary>Decompresses the grain whose marker is at <paramref name="markerOffset"/> and copies bytes [inGrainOffset, +buffer.Length) of it.</summary>
    void ReadCompressed(Span<byte> buffer, long markerOffset, long grainStart, long inGrainOffset);

    /// <summary>The OS handle data is read from (for zero-copy paths), or null.</summary>
    SafeFileHandle? Handle { get; }
}
