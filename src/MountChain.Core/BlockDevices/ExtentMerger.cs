namespace MountChain.Core.BlockDevices;

/// <summary>Appends extents, joining a new one to the last when they touch and agree.</summary>
internal static class ExtentMerger
{
    public static void Append(List<BlockExtent> output, BlockExtent extent)
    {
        if (extent.Length <= 0) return;
        if (output.Count > 0)
        {
            var last = output[^1];
            if (last.Kind == extent.Kind && last.Generation == extent.Generation && last.Offset + last.Length == extent.Offset)
            {
                output[^1] = last with { Length = last.Length + extent.Length };
                return;
            }
        }
        output.Add(extent);
    }
}
