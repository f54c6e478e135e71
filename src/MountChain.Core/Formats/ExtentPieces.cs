namespace MountChain.Core.Formats;

/// <summary>Building piece lists for <see cref="IExtent.Map"/>: consecutive pieces that continue each other become one.</summary>
internal static class ExtentPieces
{
    /// <summary>Appends <paramref name="piece"/>, merging it into the previous one when both resolve the same way contiguously.</summary>
    public static void Append(List<ExtentPiece> output, ExtentPiece piece)
    {
        if (output.Count > 0)
        {
            var last = output[^1];
            if (last.Kind == piece.Kind && last.Start + last.Count == piece.Start && piece.Kind != PieceKind.Compressed &&
                (piece.Kind != PieceKind.Data || last.FileOffset + (last.Count << Sector.Shift) == piece.FileOffset))
            {
                output[^1] = last with { Count = last.Count + piece.Count };
                return;
            }
        }
        output.Add(piece);
    }
}
