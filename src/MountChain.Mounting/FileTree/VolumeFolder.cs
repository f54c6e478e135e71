using MountChain.FileSystems.Common;

namespace MountChain.Mounting.FileTree;

/// <summary>
/// One readable file system of a disk, shown as the top-level folder "pK" (K = partition number
/// as <c>mountchain volumes</c> prints it; p0 = a disk without a partition table).
/// </summary>
/// <param name="PartitionNumber">K.</param>
/// <param name="FileSystem">The reader; owned by the folder.</param>
/// <param name="Length">Bytes of the partition (for statfs totals).</param>
public sealed record VolumeFolder(int PartitionNumber, IFileSystem FileSystem, long Length) : IDisposable
{
    public string Name => $"p{PartitionNumber}";

    public void Dispose() => FileSystem.Dispose();
}
