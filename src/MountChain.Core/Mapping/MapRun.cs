using MountChain.Core.Formats;

namespace MountChain.Core.Mapping;

/// <summary>
/// A contiguous virtual range served one way: by one link at contiguous file offsets (Data), one
/// compressed grain, zeros, or nothing (design.md rule 2).
/// </summary>
internal readonly struct MapRun(long start, long count, PieceKind kind, int generation, IExtent? extent, long fileOffset, long grainStart, long extentStart)
{
    /// <summary>First virtual sector.</summary>
    public readonly long Start = start;
    /// <summary>Length in sectors.</summary>
    public readonly long Count = count;
    /// <summary>Data: byte offset of <see cref="Start"/> in the extent file; Compressed: the grain marker's offset.</summary>
    public readonly long FileOffset = fileOffset;
    /// <summary>Compressed: extent-relative first sector of the grain.</summary>
    public readonly long GrainStart = grainStart;
    /// <summary>Virtual sector where the serving extent begins.</summary>
    public readonly long ExtentStart = extentStart;
    public readonly IExtent? Extent = extent;
    /// <summary>Index of the serving link (0 = base); -1 when no link holds the range.</summary>
    public readonly int Generation = generation;
    public readonly PieceKind Kind = kind;

    public long End => Start + Count;
}
