using System.Buffers.Binary;
using System.Text;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>
/// Symlinks stored as reparse points (as Windows and WSL write them), set through ntfs-3g's
/// system.ntfs_reparse_data attribute; the target must match ntfs-3g's readlink.
/// </summary>
public sealed class NtfsReparsePointTests : IDisposable
{
    private readonly TempDirectory _temp = new("mc-ntfs-reparse");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    /// <summary>MS-FSCC 2.1.2.4 symbolic link reparse buffer, relative flag set.</summary>
    private static byte[] WindowsSymlink(string target)
    {
        var t = Encoding.Unicode.GetBytes(target);
        var data = new byte[12 + 2 * t.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2), (ushort)t.Length);    // substitute name
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(4), (ushort)t.Length);    // print name offset
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(6), (ushort)t.Length);    // print name length
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(8), 1);                   // SYMLINK_FLAG_RELATIVE
        t.CopyTo(data, 12);
        t.CopyTo(data, 12 + t.Length);
        return Reparse(0xA000000C, data);
    }

    /// <summary>WSL's IO_REPARSE_TAG_LX_SYMLINK: version 2, then the UTF-8 target.</summary>
    private static byte[] WslSymlink(string target) => Reparse(0xA000001D, [2, 0, 0, 0, .. Encoding.UTF8.GetBytes(target)]);

    private static byte[] Reparse(uint tag, byte[] data)
    {
        var b = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(4), (ushort)data.Length);
        data.CopyTo(b, 8);
        return b;
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Windows_and_wsl_symlink_reparse_points_read_as_ntfs3g_shows_them()
    {
        string image = Path.Combine(_dir, "ntfs.img"), mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"truncate -s 16M {image} && mkntfs -F -Q {image} >/dev/null 2>&1 && ntfs-3g {image} {mnt}");
        string expected;
        try
        {
            ProcessRunner.Bash($"""
                mkdir target && echo t > target/sub && touch win wsl
                setfattr -n system.ntfs_reparse_data -v 0x{Convert.ToHexString(WindowsSymlink(@"target\sub"))} win
                setfattr -n system.ntfs_reparse_data -v 0x{Convert.ToHexString(WslSymlink("target/sub"))} wsl
                """, mnt);
            // Remount so the kernel forgets the inodes it cached as regular files.
            ProcessRunner.Bash($"umount {mnt} && ntfs-3g {image} {mnt}");
            expected = ProcessRunner.Bash("readlink win wsl", mnt);
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        Assert.Equal("target/sub\ntarget/sub\n", expected);
        foreach (var name in new[] { "win", "wsl" })
        {
            var r = MountChainCli.Run("ls", image, "p0:/" + name, "-l");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.StartsWith("l", r.Stdout);
            Assert.EndsWith($" {name} -> target/sub\n", r.Stdout);
            // Followed in the middle of a path? Not a directory link; the file behind it reads.
            Assert.Equal("t\n", MountChainCli.Run("cat-file", image, "p0:/" + name).Stdout);
        }
    }
}
