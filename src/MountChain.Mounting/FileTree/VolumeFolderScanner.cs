using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Operations;
using MountChain.FileSystems.Volumes;

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
    public static VolumeScan Open(IBlockDevice disk)
    {
        var folders = new List<VolumeFolder>();
        var skipped = new List<string>();
        try
        {
            foreach (var volume in DiskVolumes.Scan(disk))
            {
                var p = volume.Partition;
                if (p.IsExtendedContainer) continue;
                var factory = FileSystemRegistry.Find(volume.FileSystem.Kind);
                if (factory is null)
                {
                    skipped.Add($"{p.Name}: file system '{volume.FileSystem.Kind}' cannot be read (readable: {string.Join(", ", FileSystemRegistry.Kinds)})");
                    continue;
                }
                try
                {
                    folders.Add(new VolumeFolder(p.Number, factory(new VolumeDevice(disk, p.Offset, p.Length)), p.Length));
                }
                catch (Exception e) when (e is IOException or NotSupportedException or ArgumentException)
                {
                    skipped.Add($"{p.Name}: {volume.FileSystem.Kind}: {e.Message}");
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
