using System.Diagnostics;
using System.Security.Cryptography;
using MountChain.Core.Chain;
using MountChain.Mounting.FileTree;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Tests.FileSystems;
using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileTree;

/// <summary>
/// `mountchain mount --files` on a real kernel FUSE mount: every generation of a VMDK chain whose
/// GPT disk holds NTFS and XFS partitions must show, under pK, the files, hashes, sizes, times,
/// modes and links that ntfs-3g and the kernel's XFS showed when the content was written.
/// </summary>
public sealed class FileTreeMountTests(FileTreeDisk disk) : IClassFixture<FileTreeDisk>
{
    private const string ReadOnlyError = "Read-only file system"; // strerror(EROFS)

    [FileTreeFact]
    public void Each_generation_shows_its_partitions_as_pK_folders_that_hash_and_stat_like_their_kernel_mounts()
    {
        using var scratch = new TempDirectory("mc-fuse");
        for (int g = 0; g <= 1; g++)
        {
            string mp = scratch.Dir($"g{g}");
            var mounted = MountChainCli.Run("mount", disk.Child, "-g", g.ToString(), mp, "--files");
            try
            {
                Assert.True(mounted.ExitCode == 0, mounted.Stderr);
                // p3 holds no file system: left out, and said so.
                Assert.Contains("p3", mounted.Stderr);
                Assert.Equal(["p1", "p2"], Directory.EnumerateFileSystemEntries(mp).Select(Path.GetFileName).Order());
                for (int k = 1; k <= 2; k++)
                {
                    var expected = disk.View(g, k);
                    var actual = FileTreeDisk.ViewOf(Path.Combine(mp, $"p{k}"));
                    Assert.Equal(expected.Manifest, actual.Manifest);
                    StatComparison.AssertAgree(expected.Stat, actual.Stat, k, ntfs: k == 1);
                    var hashed = MountChainCli.Run("files-hash", disk.Child, "-g", g.ToString(), "--partition", k.ToString());
                    Assert.True(hashed.ExitCode == 0, hashed.Stderr);
                    Assert.Equal(expected.Manifest, hashed.Stdout);
                }
            }
            finally { Unmount(mp); }
        }
        Assert.NotEqual(disk.View(0, 1).Manifest, disk.View(1, 1).Manifest);
        Assert.NotEqual(disk.View(0, 2).Manifest, disk.View(1, 2).Manifest);
    }

    [FileTreeFact]
    public void Writes_fail_with_EROFS_and_the_chain_files_stay_unchanged()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string before = Sha256(disk.Base) + Sha256(disk.Child);
        string mp = scratch.Dir("mnt");
        var mounted = MountChainCli.Run("mount", disk.Child, mp, "--files");
        try
        {
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            string[] changes =
            [
                "touch p1/new", "echo x >> p2/f.txt", "echo x > p1/f.txt", "mkdir p1/dir", "rm p2/f.txt", "rmdir p2/added",
                "chmod 600 p1/f.txt", "chown 1:1 p2/f.txt", "truncate -s 0 p2/random.bin", "ln -s x p1/newlink", "ln p2/f.txt p2/hard2",
                "mv p1/f.txt p1/g.txt", "touch -d 2000-01-01 p2/f.txt", "setfattr -n user.x -v 1 p2/f.txt", "mkfifo p1/fifo2",
            ];
            foreach (var change in changes)
            {
                var r = ProcessRunner.Run("/bin/bash", "-c", $"cd '{mp}' && {change}");
                Assert.True(r.ExitCode != 0, $"'{change}' succeeded on the read-only tree");
                Assert.True(r.Stderr.Contains(ReadOnlyError), $"'{change}': {r.Stderr}");
            }
            Assert.ThrowsAny<IOException>(() => File.OpenHandle(Path.Combine(mp, "p1", "f.txt"), FileMode.Open, FileAccess.ReadWrite).Dispose());
            Assert.Equal(disk.View(1, 1).Manifest, FileTreeDisk.ViewOf(Path.Combine(mp, "p1")).Manifest);
        }
        finally { Unmount(mp); }
        Assert.Equal(before, Sha256(disk.Base) + Sha256(disk.Child));
    }

    [FileTreeFact]
    public void Symlinks_streams_fifos_and_parallel_reads_come_back_as_written()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string mp = scratch.Dir("mnt");
        var mounted = MountChainCli.Run("mount", disk.Child, "-g", "0", mp, "--files");
        try
        {
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            string p1 = Path.Combine(mp, "p1"), p2 = Path.Combine(mp, "p2");
            Assert.Equal("f.txt", new FileInfo(Path.Combine(p1, "link")).LinkTarget);
            Assert.Equal("/etc/hostname", new FileInfo(Path.Combine(p1, "abs")).LinkTarget);
            Assert.Equal(string.Concat(Enumerable.Range(1, 30).Select(i => $"component-{i:00}/")) + "x", new FileInfo(Path.Combine(p2, "longlink")).LinkTarget);
            Assert.Equal("nowhere", new FileInfo(Path.Combine(p2, "dangling")).LinkTarget);
            Assert.Throws<FileNotFoundException>(() => File.ReadAllText(Path.Combine(p2, "dangling")));
            Assert.Equal("inside\n", File.ReadAllText(Path.Combine(p1, "linkdir", "inner.txt")));
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(p2, "link")));

            // NTFS alternate data streams stay out of listings (as on ntfs-3g) but open by their "file:stream" name.
            Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(p1, "*", SearchOption.AllDirectories), e => Path.GetFileName(e).Contains(':'));
            Assert.Equal(FileTreeDisk.NtfsStreamValue, File.ReadAllText(Path.Combine(p1, "f.txt:stream1")));

            Assert.Equal("fifo", ProcessRunner.Check("stat", "-c", "%F", Path.Combine(p2, "fifo")).Trim());
            Assert.Equal("hello\n", File.ReadAllText(Path.Combine(p2, "hard")));

            // Many concurrent positional reads of one open file reassemble it exactly.
            foreach (var dir in new[] { p1, p2 })
            {
                string path = Path.Combine(dir, "random.bin");
                using var handle = File.OpenHandle(path);
                var content = new byte[RandomAccess.GetLength(handle)];
                const int Chunk = 12345;
                Parallel.For(0, (content.Length + Chunk - 1) / Chunk, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
                {
                    var span = content.AsSpan(i * Chunk, Math.Min(Chunk, content.Length - i * Chunk));
                    Assert.Equal(span.Length, RandomAccess.Read(handle, span, (long)i * Chunk));
                });
                string expected = disk.View(0, dir == p1 ? 1 : 2).Manifest.Split('\n').Single(l => l.EndsWith("  ./random.bin"))[..64];
                Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(content)));
            }
        }
        finally { Unmount(mp); }
    }

    [FileTreeFact]
    public void A_disk_without_a_partition_table_is_p0_with_the_on_disk_inode_numbers()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string mp = scratch.Dir("mnt");
        var mounted = MountChainCli.Run("mount", disk.BareXfs, mp, "--files");
        try
        {
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            Assert.Equal(["p0"], Directory.EnumerateFileSystemEntries(mp).Select(Path.GetFileName));
            var view = FileTreeDisk.ViewOf(Path.Combine(mp, "p0"));
            Assert.Equal(disk.View(0, 2).Manifest, view.Manifest);
            StatComparison.AssertAgree(disk.View(0, 2).Stat, view.Stat, 0, ntfs: false);
        }
        finally { Unmount(mp); }
    }

    [FileTreeFact]
    public void Sigterm_to_a_foreground_files_server_unmounts_and_exits_cleanly()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string mp = scratch.Dir("mnt");
        using var server = Process.Start(MountChainCli.StartInfo("mount", disk.Child, mp, "--files", "--foreground"))!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!Directory.Exists(Path.Combine(mp, "p2")))
            {
                Assert.False(server.HasExited, server.HasExited ? server.StandardError.ReadToEnd() : "");
                Assert.True(DateTime.UtcNow < deadline, "the mount never appeared");
                Thread.Sleep(20);
            }
            // An open file must not keep a SIGTERMed server alive.
            using (var open = File.OpenRead(Path.Combine(mp, "p2", "random.bin")))
                Assert.Equal(4096, open.Read(new byte[4096]));
            ProcessRunner.Check("kill", "-TERM", server.Id.ToString());
            Assert.True(server.WaitForExit(15_000), "the server did not exit after SIGTERM");
            Assert.Equal(0, server.ExitCode);
            Assert.Null(MountTable.Find(mp));
            Assert.Null(ServerRegistry.Lookup(mp));
        }
        finally
        {
            if (!server.HasExited) server.Kill();
            Unmounter.Unmount(mp, lazy: true);
        }
    }

    [FileTreeFact]
    public void Tree_resolves_every_entry_of_a_large_directory_with_a_small_bounded_cache()
    {
        using var chain = VmdkChain.Open(disk.Child);
        using var device = chain.OpenGeneration(1);
        var scan = VolumeFolderScanner.Open(device);
        Assert.Equal([1, 2], scan.Folders.Select(f => f.PartitionNumber));
        Assert.Contains(scan.Skipped, s => s.StartsWith("p3:"));
        using var tree = new FileSystemTree(scan.Folders, DateTimeOffset.UnixEpoch, cacheCapacity: 32);
        foreach (var folder in new[] { "/p1/many", "/p2/many" })
        {
            var children = tree.List(folder);
            Assert.True(children.Count > 250, $"{folder}: {children.Count} entries");
            Assert.True(tree.CachedEntries <= 32);
            var buffer = new byte[64];
            foreach (var child in children)
            {
                string path = folder + "/" + child.Name;
                Assert.Equal(child, tree.Find(path));
                using var file = tree.Open(path, write: false);
                int n = file.Read(buffer, 0);
                Assert.Equal($"n {child.Name["entry_".Length..^".txt".Length]}\n", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
            }
            Assert.True(tree.CachedEntries <= 32);
        }
    }

    private static void Unmount(string mp)
    {
        int? pid = ServerRegistry.Lookup(mp);
        var r = MountChainCli.Run("unmount", mp);
        try
        {
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Null(MountTable.Find(mp));
            if (pid is int p) Assert.True(ServerRegistry.WaitForExit(p, TimeSpan.FromSeconds(10)), "the server outlived its mount");
        }
        finally
        {
            if (MountTable.Find(mp) != null) Unmounter.Unmount(mp, lazy: true);
        }
    }

    private static string Sha256(string path) => Hashing.Sha256File(path);
}
