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
    private static readonly Dictionary<string, Func<IBlockDevice, IFileSystem>> Factories = new(StringComparer.Ordinal)
    {
        ["ntfs"] = volume => new NtfsFileSystem(volume),
        ["xfs"] = volume => Xfs.XfsFileSystem.Open(volume),
        ["ext2"] = volume => Ext.ExtFileSystem.Open(volume),
        ["ext3"] = volume => Ext.ExtFileSystem.Open(volume),
        ["ext4"] = volume => Ext.ExtFileSystem.Open(volume),
        [Fat.FatFileSystem.KindName] = volume => new Fat.FatFileSystem(volume),
        [Exfat.ExfatFileSystem.KindName] = volume => new Exfat.ExfatFileSystem(volume),
    };

    private static readonly Lock Gate = new();

    public static IEnumerable<string> Kinds { get { lock (Gate) return Factories.Keys.Order().ToList(); } }

    public static Func<IBlockDevice, IFileSystem>? Find(string kind)
    {
        lock (Gate) return Factories.GetValueOrDefault(kind);
    }

    /// <summary>Adds or replaces the reader for <paramref name="kind"/>.</summary>
    public static void Register(string kind, Func<IBlockDevice, IFileSystem> factory)
    {
        lock (Gate) Factories[kind] = factory;
    }
}
