using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// File changes of one volume between two disks (two generations of a chain). <see cref="Skipped"/>
/// says why the volume was not compared (a file system with no reader, or one that failed to open
/// or read), in which case <see cref="Changes"/> is empty.
/// </summary>
internal sealed record PartitionFileChanges(string Partition, string FileSystem, IReadOnlyList<FileChange> Changes, string? Skipped = null);

/// <summary>
/// Compares every volume of two disks (partitions and LVM2 LVs) file by file: a manifest of each
/// side, then <see cref="ManifestDiff"/>. A volume present on one side only counts as all files
/// added/removed. Volumes that cannot be read are returned with <see cref="PartitionFileChanges.Skipped"/>
/// set, never left out silently; containers (extended partitions, LVM PVs) are not volumes of files.
/// </summary>
internal static class DiskFileDiff
{
    public static List<PartitionFileChanges> Compare(IBlockDevice before, IBlockDevice after, FileSystemOptions? options = null)
    {
        var a = DiskVolumes.Scan(before).Where(v => !v.IsContainer).ToDictionary(v => v.Name);
        var b = DiskVolumes.Scan(after).Where(v => !v.IsContainer).ToDictionary(v => v.Name);
        var result = new List<PartitionFileChanges>();
        foreach (string name in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            var va = a.GetValueOrDefault(name);
            var vb = b.GetValueOrDefault(name);
            string kind = (vb ?? va)!.FileSystem.Kind;
            try
            {
                var ma = Manifest(before, va, options);
                var mb = Manifest(after, vb, options);
                result.Add(new PartitionFileChanges(name, kind, ManifestDiff.Compare(ma ?? [], mb ?? [])));
            }
            catch (Exception e) when (e is IOException or NotSupportedException)
            {
                result.Add(new PartitionFileChanges(name, kind, [], e.Message.StartsWith(name, StringComparison.Ordinal) ? e.Message[(name.Length + 2)..] : e.Message));
            }
        }
        return result;
    }

    private static List<ManifestEntry>? Manifest(IBlockDevice disk, VolumeInfo? info, FileSystemOptions? options)
    {
        if (info == null) return null;
        using var volume = DiskVolumes.Open(disk, info, options);
        return FileManifest.Build(volume.FileSystem, volume.FileSystem.Root);
    }
}
