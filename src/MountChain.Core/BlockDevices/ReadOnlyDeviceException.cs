namespace MountChain.Core.BlockDevices;

/// <summary>A write reached a device opened read-only (front-ends map it to EROFS / NBD EPERM).</summary>
public sealed class ReadOnlyDeviceException() : IOException("the device is read-only");
