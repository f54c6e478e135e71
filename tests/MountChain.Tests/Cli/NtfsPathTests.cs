using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// NTFS paths as a Windows user writes them (issue 14): any case, '\', alternate data streams in
/// extract and the FUSE tree, and a real file "a:b" told apart from stream b of a. The volume is
/// made by mkntfs and filled through ntfs-3g; what ntfs-3g shows is the reference.
/// </summary>
public sealed class NtfsPathTests : IDisposable
{
    private readonly TempDirectory _dir = new("ntfs-paths");

    public void Dispose() => _dir.Dispose();

    /// <summary>Docs/Report.txt with stream "Zone.Identifier"; a with stream b; a real file "a:b".</summary>
    private string Image()
    {
        string image = _dir.File("ntfs.img");
        string mnt = _dir.Dir("fill");
        ProcessRunner.Bash($"truncate -s 16M {image} && mkntfs -F -Q {image} >/dev/null");
        ProcessRunner.Bash($"ntfs-3g {image} {mnt}");
        try
        {
            ProcessRunner.Bash("""
                mkdir Docs && echo hello > Docs/Report.txt
                setfattr -n user.Zone.Identifier -v zone-data Docs/Report.txt
                echo owner > a && setfattr -n user.b -v stream-data a
                echo real-file > 'a:b'
                """, mnt);
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        return image;
    }

    private static string Cat(string image, string path)
    {
        var r = MountChainCli.Run("cat-file", image, path);
        Assert.True(r.ExitCode == 0, $"{path}: {r.Stderr}");
        return r.Stdout;
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", "setfattr", "getfattr", NeedsRootAndFuse = true)]
    public void Paths_are_case_insensitive_and_take_backslashes_and_partition_numbers_without_p()
    {
        string image = Image();
        Assert.Equal("hello\n", Cat(image, "p0:/docs/REPORT.TXT"));
        Assert.Equal("hello\n", Cat(image, @"p0:\Docs\Report.txt"));
        Assert.Equal("hello\n", Cat(image, @"0:Docs\report.txt"));
        var hashP = MountChainCli.Run("files-hash", image, "--partition", "p0");
        var hashK = MountChainCli.Run("files-hash", image, "--partition", "0");
        Assert.Equal(0, hashP.ExitCode);
        Assert.Equal(hashP.Stdout, hashK.Stdout);
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", "setfattr", "getfattr", NeedsRootAndFuse = true)]
    public void A_real_file_a_colon_b_is_told_apart_from_stream_b_of_a()
    {
        string image = Image();
        Assert.Equal("real-file\n", Cat(image, "p0:/a:b"));
        Assert.Equal("stream-data", Cat(image, "p0:/a:b:$DATA"));
        var ls = JsonDocument.Parse(MountChainCli.Run("ls", image, "p0:/", "--json").StdoutBytes).RootElement;
        var named = ls.GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("name").GetString() == "a:b").ToList();
        Assert.Equal(2, named.Count);
        Assert.Single(named, e => e.TryGetProperty("stream", out var s) && s.GetString() == "b");
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", "setfattr", "getfattr", NeedsRootAndFuse = true)]
    public void Extract_writes_streams_as_user_xattrs_as_ntfs_3g_shows_them()
    {
        string image = Image();
        string target = _dir.Dir("out");
        var r = MountChainCli.Run("extract", image, "p0:/", target);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("real-file\n", File.ReadAllText(Path.Combine(target, "a:b")));
        Assert.Equal("owner\n", File.ReadAllText(Path.Combine(target, "a")));
        Assert.Equal("stream-data", ProcessRunner.Bash("getfattr -n user.b --only-values a", target));
        Assert.Equal("zone-data", ProcessRunner.Bash("getfattr -n user.Zone.Identifier --only-values Docs/Report.txt", target));
        Assert.DoesNotContain("warning", r.Stderr);
    }

    [RequiresFuseFact("mkntfs", "ntfs-3g", "setfattr")]
    public void The_file_tree_shows_the_real_file_and_reaches_the_stream()
    {
        string image = Image();
        string mp = _dir.Dir("mnt");
        try
        {
            var r = MountChainCli.Run("mount", "--files", image, mp);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal("real-file\n", File.ReadAllText(Path.Combine(mp, "p0", "a:b")));
            Assert.Equal("stream-data", File.ReadAllText(Path.Combine(mp, "p0", "a:b:$DATA")));
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(mp, "p0", "docs", "report.txt")));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }
    }
}
