namespace MountChain.Core.BlockDevices;

/// <summary>Argument checks shared by every <see cref="IBlockDevice"/> implementation (public: for implementers outside Core).</summary>
public static class BlockDeviceGuard
{
    public static void CheckRange(IBlockDevice device, long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > device.Length || length > device.Length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"range {offset}+{length} lies outside the {device.Length}-byte disk");
    }
}
