using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Volumes;

namespace MountChain.FileSystems.Operations;

/// <summary>A partition and what it holds.</summary>
public sealed record VolumeInfo(Partition Partition, DetectedFileSystem FileSystem);

/// <summary>A file system opened on one partition; disposing closes the file system (not the disk).</summary>
public sealed class OpenedVolume(VolumeInfo info, VolumeDevice device, IFileSystem fileSystem) : IDisposable
{
    public VolumeInfo Info { get; } = info;
    public VolumeDevice Device { get; } = device;
    public IFileSystem FileSystem { get; } = fileSystem;
    public void Dispose() => FileSystem.Dispose();
}

/// <summary>Lists a disk's volumes and opens the file system of one of them.</summary>
public static class DiskVolumes
{
    /// <param name="warnings">Receives problems that were worked around (e.g. a damaged primary GPT).</param>
    public static List<VolumeInfo> Scan(IBlockDevice disk, List<string>? warnings = null)
    {
        var table = PartitionTableReader.Read(disk);
        warnings?.AddRange(table.Warnings);
        var result = new List<VolumeInfo>();
        foreach (var p in table.Partitions)
        {
            var fs = p.IsExtendedContainer ? new DetectedFileSystem("extended", "") : FileSystemDetector.Detect(new VolumeDevice(disk, p.Offset, p.Length) { Name = p.Name });
            result.Add(new VolumeInfo(p, fs));
        }
        return result;
    }

    public static OpenedVolume Open(IBlockDevice disk, int partition)
    {
        var volumes = Scan(disk);
        var info = volumes.FirstOrDefault(v => v.Partition.Number == partition)
            ?? throw new IOException($"partition p{partition} does not exist (the disk has {string.Join(", ", volumes.Select(v => v.Partition.Name))})");
        var device = new VolumeDevice(disk, info.Partition.Offset, info.Partition.Length) { Name = info.Partition.Name };
        var factory = FileSystemRegistry.Find(info.FileSystem.Kind)
            ?? throw new IOException($"p{partition}: file system '{info.FileSystem.Kind}' cannot be read (readable: {string.Join(", ", FileSystemRegistry.Kinds)})");
        return new OpenedVolume(info, device, factory(device));
    }
}
