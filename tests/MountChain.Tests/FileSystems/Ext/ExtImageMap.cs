using System.Text.RegularExpressions;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>Where e2fsprogs (debugfs, dumpe2fs) say an ext image keeps a structure, for tests that patch it.</summary>
internal static partial class ExtImageMap
{
    public static int BlockSize(string image) =>
        int.Parse(BlockSizeLine().Match(ProcessRunner.Check("dumpe2fs", "-h", image)).Groups[1].Value);

    public static string Stat(string image, string path) => ProcessRunner.Check("debugfs", "-R", $"stat {path}", image);

    public static uint InodeNumber(string image, string path) => uint.Parse(InodeLine().Match(Stat(image, path)).Groups[1].Value);

    /// <summary>Byte offset of the inode of <paramref name="path"/> in the image (debugfs imap).</summary>
    public static long InodeOffset(string image, string path)
    {
        var m = ImapLine().Match(ProcessRunner.Check("debugfs", "-R", $"imap {path}", image));
        Assert.True(m.Success, $"debugfs imap {path}");
        return long.Parse(m.Groups[1].Value) * BlockSize(image) + Convert.ToInt64(m.Groups[2].Value, 16);
    }

    /// <summary>The block of the extent tree at <paramref name="level"/> below the inode ("(ETB0):N" is the first index block under the inode).</summary>
    public static long ExtentTreeBlock(string image, string path, int level)
    {
        var m = Regex.Match(Stat(image, path), $@"\(ETB{level}\):(\d+)");
        Assert.True(m.Success, $"{path} has no extent tree block at level {level}");
        return long.Parse(m.Groups[1].Value);
    }

    /// <summary>First data block of a file or directory (debugfs blocks).</summary>
    public static long FirstBlock(string image, string path) =>
        long.Parse(ProcessRunner.Check("debugfs", "-R", $"blocks {path}", image).Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);

    [GeneratedRegex(@"Block size:\s+(\d+)")] private static partial Regex BlockSizeLine();
    [GeneratedRegex(@"Inode: (\d+)")] private static partial Regex InodeLine();
    [GeneratedRegex(@"located at block (\d+), offset (0x[0-9a-fA-F]+)")] private static partial Regex ImapLine();
}
