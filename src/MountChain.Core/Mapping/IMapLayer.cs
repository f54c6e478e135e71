using MountChain.Core.Formats;

namespace MountChain.Core.Mapping;

/// <summary>
/// One layer of a generation as the grain map sees it (a chain link, base first): its address space
/// resolved into pieces. The map knows layers only through this, so Mapping does not depend on Chain.
/// </summary>
internal interface IMapLayer
{
    long CapacitySectors { get; }

    /// <summary>Appends pieces covering [start, start+count) of the layer's address space, in order; <paramref name="scratch"/> is the caller's reusable buffer.</summary>
    void Map(long start, long count, List<LinkPiece> output, List<ExtentPiece> scratch);
}

/// <summary>A piece of a layer's address space, with the extent that holds it and where that extent begins.</summary>
internal readonly record struct LinkPiece(long Start, long Count, PieceKind Kind, long FileOffset, long GrainStart, IExtent Extent, long ExtentStart);
