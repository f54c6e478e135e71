using MountChain.Core.BlockDevices;

namespace MountChain.Cli.Infrastructure;

/// <summary>Writes a device to a raw file, leaving holes where the device has none or zeros.</summary>
public static class RawExporter
{
    public static void Export(IBlockDevice device, string targetPath, bool quiet)
    {
        string temp = targetPath + ".part";
        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
        {
            RandomAccess.SetLength(handle, device.Length);
            var extents = new List<BlockExtent>();
            device.GetExtents(0, device.Length, extents);
            using var progress = new Progress("convert", device.Length, quiet);
            foreach (var extent in extents)
            {
                if (extent.Kind != ExtentKind.Data)
                {
                    progress.Advance(extent.Length);
                    continue;
                }
                SequentialReader.ReadAll(device, extent.Offset, extent.Length, (block, offset) =>
                {
                    if (!block.Span.ContainsAnyExcept((byte)0))
                        return; // all-zero block: keep it a hole, like qemu-img convert
                    RandomAccess.Write(handle, block.Span, offset);
                }, progress);
            }
            RandomAccess.FlushToDisk(handle);
        }
        File.Move(temp, targetPath, overwrite: true);
    }
}
