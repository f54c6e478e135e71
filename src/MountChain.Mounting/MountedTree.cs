using MountChain.Core.BlockDevices;
using MountChain.Mounting.BlockFile;
using MountChain.Mounting.FileTree;
using MountChain.Mounting.Hosting;
using MountChain.Mounting.Trees;

namespace MountChain.Mounting;

/// <summary>The two trees <c>mountchain mount</c> presents: the disk as one file, or (--files) its file systems.</summary>
public static class MountedTree
{
    /// <summary>How long the kernel may cache names and attributes of a --files tree, whose content is fixed.</summary>
    private static readonly TimeSpan FilesAttributeTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// <c>disk.raw</c> over <paramref name="device"/>, or with <paramref name="files"/> one folder per
    /// partition whose file system we read; each partition left out is named to <paramref name="warn"/>.
    /// </summary>
    public static IFileTree Create(IBlockDevice device, string sourcePath, bool files, Action<string> warn)
    {
        var modified = new DateTimeOffset(File.GetLastWriteTimeUtc(sourcePath));
        if (!files) return new BlockFileTree(device, modified: modified);
        var scan = VolumeFolderScanner.Open(device, new FileSystems.Common.FileSystemOptions { Warning = warn });
        foreach (var line in scan.Skipped) warn($"{line} (not shown)");
        if (scan.Folders.Count == 0)
            throw new IOException($"{sourcePath}: no partition holds a file system mountchain can read");
        return new FileSystemTree(scan.Folders, modified);
    }

    /// <summary>Mount settings for the tree: the file tree cannot change under the mount, so it may be cached.</summary>
    public static MountSettings Settings(bool files, string sourcePath, bool allowOther, TextWriter? errorLog) => new()
    {
        SourceName = sourcePath,
        AllowOther = allowOther,
        ErrorLog = errorLog,
        FixedContent = files,
        AttributeTimeout = files ? FilesAttributeTimeout : null,
    };

    /// <summary>Looks at a freshly mounted tree: a server that said it is ready must show it.</summary>
    public static void CheckVisible(string mountPoint, bool files)
    {
        bool visible = files
            ? Directory.EnumerateFileSystemEntries(mountPoint).Any()
            : File.Exists(Path.Combine(mountPoint, BlockFileTree.DefaultFileName));
        if (!visible)
            throw new IOException($"{mountPoint}: mounted, but {(files ? "no partition folder" : BlockFileTree.DefaultFileName)} is visible");
    }
}
