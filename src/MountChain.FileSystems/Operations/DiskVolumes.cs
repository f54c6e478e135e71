using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Lvm;
using MountChain.FileSystems.Volumes;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// A volume of a disk: a partition ("pK"), or an LVM2 logical volume ("pK/VG-LV", K the partition
/// holding its first extent), and the file system it holds.
/// </summary>
public sealed record VolumeInfo
{
    internal VolumeInfo(Partition partition, DetectedFileSystem fileSystem, LogicalVolumeLocation? logicalVolume = null)
    {
        Partition = partition;
        FileSystem = fileSystem;
        LogicalVolume = logicalVolume;
    }

    /// <summary>The partition: the volume itself, or for a logical volume the one holding its first extent.</summary>
    public Partition Partition { get; }
    public DetectedFileSystem FileSystem { get; }
    /// <summary>Where a logical volume lives (LVM internals; null for a partition).</summary>
    internal LogicalVolumeLocation? LogicalVolume { get; }
    /// <summary>"VG-LV" (device-mapper spelling) for an LVM2 logical volume, else null.</summary>
    public string? LogicalVolumeName => LogicalVolume?.MapperName;
    /// <summary>Why a logical volume cannot be read (snapshot, thin, …), else null.</summary>
    public string? Unsupported => LogicalVolume?.Volume.Unsupported;

    public string Name => LogicalVolume == null ? Partition.Name : $"{Partition.Name}/{LogicalVolume.MapperName}";

    /// <summary>Byte offset on the disk (an LV's first extent may be anywhere; its partition's offset is shown).</summary>
    public long Offset => Partition.Offset;
    public long Length => LogicalVolume == null ? Partition.Length : LogicalVolume.Volume.ExtentCount * LogicalVolume.VolumeGroup.ExtentBytes;

    /// <summary>A container of other volumes (an MBR extended partition, an LVM PV whose LVs are listed), not itself a file system.</summary>
    public bool IsContainer => Partition.IsExtendedContainer && LogicalVolume == null || FileSystem.Kind == "LVM2_member";

    public IBlockDevice OpenDevice(IBlockDevice disk) =>
        LogicalVolume?.OpenDevice(disk) ?? (IBlockDevice)new VolumeDevice(disk, Partition.Offset, Partition.Length) { Name = Partition.Name };
}

/// <summary>A file system opened on one volume; disposing closes the file system (not the disk).</summary>
public sealed class OpenedVolume(VolumeInfo info, IBlockDevice device, IFileSystem fileSystem) : IDisposable
{
    public VolumeInfo Info { get; } = info;
    public IBlockDevice Device { get; } = device;
    public IFileSystem FileSystem { get; } = fileSystem;
    public void Dispose() => FileSystem.Dispose();
}

/// <summary>Lists a disk's volumes (partitions, then the LVs of LVM2 PVs) and opens the file system of one of them.</summary>
public static class DiskVolumes
{
    /// <param name="warnings">Receives problems that were worked around (e.g. a damaged primary GPT or LVM metadata area).</param>
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
        var pvs = result.Where(v => v.FileSystem.Kind == "LVM2_member").Select(v => v.Partition).ToList();
        if (pvs.Count == 0) return result;
        var lvmWarnings = new List<string>();
        foreach (var lv in LvmScanner.Scan(disk, pvs, lvmWarnings))
        {
            DetectedFileSystem fs;
            if (lv.Volume.Unsupported != null) fs = new DetectedFileSystem("lvm-unsupported", "", lv.Volume.Unsupported);
            else
            {
                try { fs = FileSystemDetector.Detect(lv.OpenDevice(disk)); }
                catch (IOException e) { fs = new DetectedFileSystem("lvm-unsupported", "", e.Message); }
            }
            int at = result.FindLastIndex(v => v.Partition.Number == lv.HomePartition.Number);
            result.Insert(at + 1 + result.Skip(at + 1).TakeWhile(v => v.LogicalVolume != null).Count(), new VolumeInfo(lv.HomePartition, fs, lv));
        }
        warnings?.AddRange(lvmWarnings);
        return result;
    }

    public static OpenedVolume Open(IBlockDevice disk, int partition) => Open(disk, $"p{partition}");

    /// <param name="name">"pK" or "K" for a partition, "pK/VG-LV" or "K/VG-LV" for a logical volume (as <c>volumes</c> lists them).</param>
    /// <param name="options">Checksum strictness and where warnings go (they are prefixed with the volume's name).</param>
    public static OpenedVolume Open(IBlockDevice disk, string name, FileSystemOptions? options = null)
    {
        var warnings = new List<string>();
        var volumes = Scan(disk, warnings);
        string wanted = Normalize(name);
        // Say why an LV may be missing: damaged LVM metadata is only a warning for `volumes`.
        string why = warnings.Count == 0 ? "" : $"; {string.Join("; ", warnings)}";
        var info = volumes.FirstOrDefault(v => string.Equals(v.Name, wanted, StringComparison.Ordinal))
            ?? throw new IOException($"volume {wanted} does not exist (the disk has {string.Join(", ", volumes.Select(v => v.Name))}){why}");
        return Open(disk, info, options);
    }

    public static OpenedVolume Open(IBlockDevice disk, VolumeInfo info, FileSystemOptions? options = null)
    {
        if (info.LogicalVolume?.Volume.Unsupported is { } why) throw new IOException($"{info.Name}: {why}");
        var factory = FileSystemRegistry.FindWithOptions(info.FileSystem.Kind)
            ?? throw new IOException($"{info.Name}: file system '{info.FileSystem.Kind}' cannot be read (readable: {string.Join(", ", FileSystemRegistry.Kinds)})");
        var device = info.OpenDevice(disk);
        options = (options ?? FileSystemOptions.Default) with { VolumeName = info.Name };
        if (options.Warning is { } warn) options = options with { Warning = text => warn($"{info.Name}: {text}") };
        try { return new OpenedVolume(info, device, new VolumeErrorNaming(factory(device, options), info.Name)); }
        catch (FileSystemCorruptException e) when (!e.Message.StartsWith(info.Name + ":", StringComparison.Ordinal)) { throw new FileSystemCorruptException($"{info.Name}: {e.Message}"); }
        catch (FileSystemUnsupportedException e) when (!e.Message.StartsWith(info.Name + ":", StringComparison.Ordinal)) { throw new FileSystemUnsupportedException($"{info.Name}: {e.Message}"); }
    }

    /// <summary>"3" → "p3", "P3/vg0-root" → "p3/vg0-root".</summary>
    public static string Normalize(string name)
    {
        string n = name.Trim();
        if (n.Length > 0 && char.IsAsciiDigit(n[0])) n = "p" + n;
        else if (n.StartsWith('P')) n = "p" + n[1..];
        return n;
    }
}
