using MountChain.FileSystems.Common;

namespace MountChain.Mounting.FileTree;

/// <summary>
/// One readable file system of a disk, shown as the top-level folder "pK" (K = partition number
/// as <c>mountchain volumes</c> prints it; p0 = a disk without a partition table), or for an LVM2
/// logical volume as "pK/VG-LV" (a folder inside the folder of the PV's partition).
/// </summary>
/// <param name="PartitionNumber">K.</param>
/// <param name="FileSystem">The reader; owned by the folder.</param>
/// <param name="Length">Bytes of the volume (for statfs totals).</param>
/// <param name="LogicalVolume">"VG-LV" for a logical volume, else null.</param>
/// <param name="IdSpace">The top bits of this volume's node ids (see <see cref="EntryNodes.NodeId"/>); the partition number when negative.</param>
public sealed record VolumeFolder(int PartitionNumber, IFileSystem FileSystem, long Length, string? LogicalVolume = null, int IdSpace = -1) : IDisposable
{
    public string Name => LogicalVolume == null ? $"p{PartitionNumber}" : $"p{PartitionNumber}/{LogicalVolume}";

    /// <summary>The folder holding this one at the top of the tree ("pK"), which for an LV is not itself a file system.</summary>
    public string TopName => $"p{PartitionNumber}";

    public int NodeSpace => IdSpace >= 0 ? IdSpace : PartitionNumber;

    public void Dispose() => FileSystem.Dispose();
}
