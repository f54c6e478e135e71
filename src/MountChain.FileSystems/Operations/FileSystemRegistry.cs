using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Ntfs;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Maps a detected file-system kind (<see cref="Volumes.FileSystemDetector"/>'s names) to the
/// reader that opens it. Readers register here; nothing else needs to know them.
/// </summary>
public static class FileSystemRegistry
{
    private static readonly Dictionary<string, Func<IBlockDevice, FileSystemOptions, IFileSystem>> Factories = new(StringComparer.Ordinal)
    {
        ["ntfs"] = (volume, _) => new NtfsFileSystem(volume),
        ["xfs"] = (volume, _) => Xfs.XfsFileSystem.Open(volume),
        ["ext2"] = OpenExt,
        ["ext3"] = OpenExt,
        ["ext4"] = OpenExt,
        [Fat.FatFileSystem.KindName] = (volume, _) => new Fat.FatFileSystem(volume),
        [Exfat.ExfatFileSystem.KindName] = (volume, _) => new Exfat.ExfatFileSystem(volume),
    };

    private static IFileSystem OpenExt(IBlockDevice volume, FileSystemOptions options) =>
        Ext.ExtFileSystem.Open(volume, new Ext.ExtChecksumPolicy { Strict = options.StrictChecksums, Report = options.Warning }, volumeName: options.VolumeName);

    private static readonly Lock Gate = new();

    public static IEnumerable<string> Kinds { get { lock (Gate) return Factories.Keys.Order().ToList(); } }

    /// <summary>The reader of <paramref name="kind"/> with default options, or null.</summary>
    public static Func<IBlockDevice, IFileSystem>? Find(string kind) =>
        FindWithOptions(kind) is { } factory ? volume => factory(volume, FileSystemOptions.Default) : null;

    public static Func<IBlockDevice, FileSystemOptions, IFileSystem>? FindWithOptions(string kind)
    {
        lock (Gate) return Factories.GetValueOrDefault(kind);
    }

    /// <summary>Adds or replaces the reader for <paramref name="kind"/>.</summary>
    public static void Register(string kind, Func<IBlockDevice, IFileSystem> factory) => Register(kind, (volume, _) => factory(volume));

    public static void Register(string kind, Func<IBlockDevice, FileSystemOptions, IFileSystem> factory)
    {
        lock (Gate) Factories[kind] = factory;
    }
}
