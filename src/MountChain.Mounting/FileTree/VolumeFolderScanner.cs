using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Operations;

namespace MountChain.Mounting.FileTree;

/// <summary>What a disk offers a file tree: the folders that opened, and one line per partition that did not.</summary>
public sealed record VolumeScan(IReadOnlyList<VolumeFolder> Folders, IReadOnlyList<string> Skipped);

/// <summary>
/// Opens every partition of a disk whose file system has a reader in <see cref="FileSystemRegistry"/>.
/// A partition whose file system is unknown, unsupported or too damaged to open is left out and
/// named in <see cref="VolumeScan.Skipped"/>; the others still mount.
/// </summary>
public static class VolumeFolderScanner
{
    /// <param name="options">Checksum strictness and where readers' warnings go (prefixed with the volume's name).</param>
    public static VolumeScan Open(IBlockDevice disk, FileSystemOptions? options = null)
    {
        options ??= FileSystemOptions.Default;
        var folders = new List<VolumeFolder>();
        var skipped = new List<string>();
        try
        {
            int logicalVolumes = 0;
            foreach (var volume in DiskVolumes.Scan(disk))
            {
                var p = volume.Partition;
                if (volume.IsContainer) continue;
                if (volume.Unsupported is { } why)
                {
                    skipped.Add($"{volume.Name}: {why}");
                    continue;
                }
                var factory = FileSystemRegistry.FindWithOptions(volume.FileSystem.Kind);
                if (factory is null)
                {
                    skipped.Add($"{volume.Name}: file system '{volume.FileSystem.Kind}' cannot be read (readable: {string.Join(", ", FileSystemRegistry.Kinds)})");
                    continue;
                }
                try
                {
                    string name = volume.Name;
                    var named = options with { VolumeName = name };
                    var fs = factory(volume.OpenDevice(disk), options.Warning is { } warn ? named with { Warning = text => warn($"{name}: {text}") } : named);
                    // LVs get node-id spaces above any partition number (MBR/GPT numbers stay below 128).
                    folders.Add(volume.LogicalVolumeName is not { } lv
                        ? new VolumeFolder(p.Number, fs, volume.Length)
                        : new VolumeFolder(p.Number, fs, volume.Length, lv, 128 + logicalVolumes++));
                }
                catch (Exception e) when (e is IOException or NotSupportedException or ArgumentException)
                {
                    skipped.Add($"{volume.Name}: {volume.FileSystem.Kind}: {e.Message}");
                }
            }
        }
        catch
        {
            foreach (var f in folders) f.Dispose();
            throw;
        }
        return new VolumeScan(folders, skipped);
    }
}
