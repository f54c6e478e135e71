using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Operations;
using MountChain.FileSystems.Volumes;
using MountChain.Fuzz.Harness;

namespace MountChain.Fuzz.Targets;

/// <summary>Targets for what lies on a disk: partition tables, LVM2, and each file system on a volume.</summary>
public static class VolumeTargets
{
    public static IEnumerable<FuzzTarget> All()
    {
        yield return new("partitions", "GPT (both headers, entry array CRCs), MBR and logical partitions, file-system detection", (input, _) =>
        {
            using var disk = new SparseMemoryDevice(SparseImage.Decode(input));
            foreach (var volume in DiskVolumes.Scan(disk, []))
                if (!volume.IsContainer && volume.LogicalVolume?.Volume.Unsupported == null) ReadHead(volume.OpenDevice(disk));
        });
        yield return new("lvm", "LVM2 labels, metadata text, linear and striped LVs", (input, _) =>
        {
            using var disk = new SparseMemoryDevice(SparseImage.Decode(input));
            foreach (var volume in DiskVolumes.Scan(disk, []))
                if (volume.LogicalVolume is { Volume.Unsupported: null }) Exercise.Device(volume.OpenDevice(disk));
        });
        yield return FileSystem("ntfs", "NTFS boot sector, MFT records with fix-ups, attribute lists, runlists, index B-trees, LZNT1");
        yield return FileSystem("xfs", "XFS superblock, v4/v5 inodes, every directory form, bmbt, symlinks");
        yield return FileSystem("ext4", "ext2/3/4 superblock, group descriptors, inodes, extent trees, block maps, htree directories, xattrs");
        yield return FileSystem("vfat", "FAT12/16/32 boot sector, FAT chains, VFAT long names");
        yield return FileSystem("exfat", "exFAT boot region, bitmap, up-case table, directory entry sets");
    }

    /// <summary>Input: a <see cref="SparseImage"/> of one volume holding file system <paramref name="kind"/>.</summary>
    private static FuzzTarget FileSystem(string kind, string parser) => new(kind == "vfat" ? "fat" : kind, parser, (input, _) =>
    {
        using var disk = new SparseMemoryDevice(SparseImage.Decode(input));
        var volume = new VolumeDevice(disk, 0, disk.Length) { Name = "p1" };
        var open = FileSystemRegistry.Find(kind == "ext4" ? "ext4" : kind)!;
        using var fs = open(volume);
        Exercise.FileSystem(fs);
    });

    private static void ReadHead(IBlockDevice volume)
    {
        Span<byte> head = stackalloc byte[4096];
        int n = (int)Math.Min(head.Length, volume.Length);
        volume.Read(head[..n], 0);
    }
}
