using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Operations;

/// <summary>File changes of one partition between two disks (two generations of a chain).</summary>
public sealed record PartitionFileChanges(string Partition, string FileSystem, IReadOnlyList<FileChange> Changes);

/// <summary>
/// Compares every readable partition of two disks file by file: a manifest of each side, then
/// <see cref="ManifestDiff"/>. A partition present on one side only counts as all files added/removed.
/// </summary>
public static class DiskFileDiff
{
    public static List<PartitionFileChanges> Compare(IBlockDevice before, IBlockDevice after)
    {
        var a = DiskVolumes.Scan(before).ToDictionary(v => v.Partition.Number);
        var b = DiskVolumes.Scan(after).ToDictionary(v => v.Partition.Number);
        var result = new List<PartitionFileChanges>();
        foreach (int k in a.Keys.Union(b.Keys).Order())
        {
            var ma = Manifest(before, a.GetValueOrDefault(k));
            var mb = Manifest(after, b.GetValueOrDefault(k));
            if (ma == null && mb == null) continue;
            string kind = (b.GetValueOrDefault(k) ?? a[k]).FileSystem.Kind;
            result.Add(new PartitionFileChanges($"p{k}", kind, ManifestDiff.Compare(ma ?? [], mb ?? [])));
        }
        return result;
    }

    private static List<ManifestEntry>? Manifest(IBlockDevice disk, VolumeInfo? info)
    {
        if (info == null || FileSystemRegistry.Find(info.FileSystem.Kind) == null) return null;
        using var volume = DiskVolumes.Open(disk, info.Partition.Number);
        return FileManifest.Build(volume.FileSystem, volume.FileSystem.Root);
    }
}
