using System.Globalization;
using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>The NTFS reader, through the mountchain CLI, against what ntfs-3g and sleuthkit show.</summary>
[Collection(PopulatedNtfsCollection.Name)]
public sealed class NtfsReaderTests(PopulatedNtfsImage fixture)
{
    private const string Tools = "mkntfs";

    private static JsonElement[] LsJson(string image, string path, bool recursive = true)
    {
        var r = MountChainCli.Run(["ls", image, path, "--json", .. recursive ? new[] { "-r" } : []]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("entries").EnumerateArray().ToArray();
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Files_hash_equals_sha256sum_over_the_ntfs3g_mount()
    {
        var r = MountChainCli.Run("files-hash", fixture.Image, "--partition", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(fixture.ExpectedManifest.Split('\n').Length, r.Stdout.Split('\n').Length);
        Assert.Equal(fixture.ExpectedManifest, r.Stdout);
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Ls_long_sizes_times_types_links_and_ids_equal_what_the_mount_shows()
    {
        var ours = LsJson(fixture.Image, "p0:/")
            .Where(e => !e.TryGetProperty("stream", out _))
            .ToDictionary(e => e.GetProperty("path").GetString()!.TrimStart('/'));
        var lines = fixture.ExpectedStat.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 3500);
        Assert.Equal(lines.Length, ours.Count);
        foreach (var line in lines)
        {
            var f = line.Split('\t');
            Assert.True(ours.TryGetValue(f[0], out var e), $"{f[0]} missing from ls");
            string type = e.GetProperty("type").GetString()!;
            Assert.Equal(f[1] switch { "f" => "file", "d" => "directory", "l" => "symlink", _ => "other" }, type);
            Assert.Equal(ulong.Parse(f[5]), e.GetProperty("id").GetUInt64());
            if (type == "directory") continue;
            Assert.True(long.Parse(f[2]) == e.GetProperty("sizeBytes").GetInt64(), $"size of {f[0]}");
            // %T@ prints seconds with a 10-digit fraction; NTFS keeps 100 ns.
            long expectedNs = (long)(decimal.Parse(f[3], CultureInfo.InvariantCulture) * 1_000_000_000m);
            Assert.True(expectedNs == e.GetProperty("mtimeNs").GetInt64(), $"mtime of {f[0]}");
            if (type == "file") Assert.True(uint.Parse(f[4]) == e.GetProperty("links").GetUInt32(), $"links of {f[0]}");
        }
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Ls_long_text_shows_type_links_size_time_and_link_target()
    {
        var r = MountChainCli.Run("ls", fixture.Image, "p0:/", "-l");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var stat = fixture.ExpectedStat.Split('\n').Select(l => l.Split('\t')).First(f => f[0] == "f.txt");
        var mtime = DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)(decimal.Parse(stat[3], CultureInfo.InvariantCulture) * 10_000_000m));
        var line = Assert.Single(lines, l => l.EndsWith(" f.txt") && !l.Contains(" -> "));
        Assert.Matches(@"^-rwxrwxrwx +3 +6 ", line);
        Assert.Contains(mtime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture), line);
        Assert.Single(lines, l => l.StartsWith('l') && l.EndsWith(" link -> f.txt"));
        Assert.Single(lines, l => l.StartsWith('d') && l.EndsWith(" sub"));
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Symlink_targets_equal_readlink_on_the_mount()
    {
        var ours = LsJson(fixture.Image, "p0:/").Where(e => e.GetProperty("type").GetString() == "symlink")
            .ToDictionary(e => e.GetProperty("path").GetString()!.TrimStart('/'), e => e.GetProperty("target").GetString());
        var expected = fixture.ExpectedLinks.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        Assert.Equal(5, expected.Count);
        foreach (var l in expected) Assert.Equal(l[1], ours[l[0]]);
        // A symlink in the middle of a path is followed.
        var r = MountChainCli.Run("cat-file", fixture.Image, "p0:/linkdir/inner.txt");
        Assert.Equal("inside\n", r.Stdout);
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Alternate_data_streams_are_listed_as_file_colon_stream_and_readable()
    {
        var root = LsJson(fixture.Image, "p0:/", recursive: false);
        var stream = Assert.Single(root, e => e.GetProperty("name").GetString() == "f.txt:stream1");
        Assert.Equal(fixture.StreamValue.Length, stream.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(60, root.Count(e => e.GetProperty("name").GetString()!.StartsWith("manystreams.txt:")));
        var r = MountChainCli.Run("cat-file", fixture.Image, "p0:/f.txt:stream1");
        Assert.Equal(fixture.StreamValue, r.Stdout);
        r = MountChainCli.Run("cat-file", fixture.Image, "p0:/manystreams.txt:s42");
        Assert.Equal($"value-42-{42.ToString("D90")}", r.Stdout);
        // Hard links: three names, one MFT record, link count 3.
        var names = root.Where(e => e.GetProperty("name").GetString() is "f.txt" or "hard" or "hard2").ToList();
        Assert.Equal(3, names.Count);
        Assert.Single(names.Select(e => e.GetProperty("id").GetUInt64()).Distinct());
        Assert.All(names, e => Assert.Equal(3u, e.GetProperty("links").GetUInt32()));
        // System files stay hidden, like on the mount.
        Assert.DoesNotContain(root, e => e.GetProperty("name").GetString()!.StartsWith('$'));
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", "istat", NeedsRootAndFuse = true)]
    public void The_fixture_really_has_attribute_lists_compression_and_a_multi_level_index()
    {
        var frag = LsJson(fixture.Image, "p0:/frag/a", recursive: false).Single();
        string istat = ProcessRunner.Bash($"istat {fixture.Image} {frag.GetProperty("id").GetUInt64()}");
        Assert.Contains("$ATTRIBUTE_LIST", istat);
        var comp = LsJson(fixture.Image, "p0:/comp/text.txt", recursive: false).Single();
        Assert.NotEqual(0u, comp.GetProperty("attributes").GetUInt32() & 0x800u);
        var big = LsJson(fixture.Image, "p0:/big", recursive: false);
        Assert.Equal(3000, big.Length);
        string bigStat = ProcessRunner.Bash($"istat {fixture.Image} {LsJson(fixture.Image, "p0:/", false).Single(e => e.GetProperty("name").GetString() == "big").GetProperty("id").GetUInt64()}");
        Assert.Contains("$INDEX_ALLOCATION", bigStat);
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", "fls", "icat", NeedsRootAndFuse = true)]
    public void Sleuthkit_sees_the_same_files_and_content()
    {
        // fls -r -p: "r/r 64-128-2:\tpath"; drop metadata files, orphans and stream entries.
        var fls = ProcessRunner.Bash($"fls -r -p -u {fixture.Image}").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t', 2)).Where(p => p.Length == 2 && p[0].StartsWith("r/r") && !p[1].StartsWith('$') && !p[1].Contains(':'))
            .Select(p => p[1]).ToHashSet();
        var ours = LsJson(fixture.Image, "p0:/").Where(e => e.GetProperty("type").GetString() is "file" or "symlink" && !e.TryGetProperty("stream", out _))
            .Select(e => e.GetProperty("path").GetString()!.TrimStart('/')).ToHashSet();
        Assert.Equal(fls.Order(StringComparer.Ordinal), ours.Order(StringComparer.Ordinal));
        foreach (var path in new[] { "frag/a", "frag/hole2", "comp/mixed.bin", "big/entry_with_a_longish_name_2999", "sparse.bin" })
        {
            ulong id = LsJson(fixture.Image, "p0:/" + path, false).Single().GetProperty("id").GetUInt64();
            string tsk = ProcessRunner.Bash($"icat {fixture.Image} {id} | sha256sum | cut -d' ' -f1").Trim();
            var cat = MountChainCli.Run("cat-file", fixture.Image, "p0:/" + path);
            Assert.Equal(tsk, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(cat.StdoutBytes)));
        }
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Extract_reproduces_contents_times_symlinks_and_holes()
    {
        string target = Path.Combine(fixture.Directory, "extract-" + Guid.NewGuid().ToString("N"));
        try
        {
            var r = MountChainCli.Run("extract", fixture.Image, "p0:/", target);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(fixture.ExpectedManifest, ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum", target));
            Assert.Equal(fixture.ExpectedLinks.Split('\n').Order(StringComparer.Ordinal), ProcessRunner.Bash("find . -type l -printf '%P\\t%l\\n'", target).Split('\n').Order(StringComparer.Ordinal));
            var stat = fixture.ExpectedStat.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(f => f[1] is "f" or "d").ToDictionary(f => f[0], f => f[3]);
            var got = ProcessRunner.Bash("find . -mindepth 1 -type f -o -mindepth 1 -type d -printf '' -o -mindepth 1 -type d -print0 >/dev/null; find . -mindepth 1 \\( -type f -o -type d \\) -printf '%P\\t%T@\\n'", target)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToDictionary(f => f[0], f => f[1]);
            Assert.Equal(stat.Count, got.Count);
            foreach (var (path, t) in stat) Assert.True(decimal.Parse(t, CultureInfo.InvariantCulture) == decimal.Parse(got[path], CultureInfo.InvariantCulture), $"mtime of {path}");
            // The 40 MiB sparse file keeps its holes.
            long blocks = long.Parse(ProcessRunner.Bash($"stat -c %b {Path.Combine(target, "sparse.bin")}").Trim());
            Assert.True(blocks * 512 < 1 << 20, $"sparse.bin occupies {blocks} blocks");
        }
        finally { if (Directory.Exists(target)) Directory.Delete(target, true); }
    }

    [FileSystemToolsFact(Tools, "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Unicode_names_are_sorted_by_utf8_bytes_like_sort_in_the_C_locale()
    {
        var r = MountChainCli.Run("files-hash", fixture.Image);
        var paths = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[66..]).ToList();
        int privateUse = paths.IndexOf("./\uE000private.txt"), emoji = paths.IndexOf("./\U0001F389party.txt");
        Assert.True(privateUse >= 0 && emoji >= 0);
        Assert.True(privateUse < emoji, "U+E000 (EE 80 80) sorts before U+1F389 (F0 9F 8E 89) in byte order");
    }
}

/// <summary>The reader used directly from many threads at once (as FUSE and NBD front-ends will).</summary>
[Collection(PopulatedNtfsCollection.Name)]
public sealed class NtfsConcurrentReadTests(PopulatedNtfsImage fixture)
{
    [FileSystemToolsFact("mkntfs", "ntfs-3g", "setfattr", NeedsRootAndFuse = true)]
    public void Concurrent_random_reads_return_the_same_bytes_as_a_sequential_read()
    {
        using var device = new MountChain.Core.BlockDevices.RawFileBlockDevice(fixture.Image);
        using var fs = new MountChain.FileSystems.Ntfs.NtfsFileSystem(device);
        var files = new[] { "/frag/a", "/comp/mixed.bin", "/comp/sparse-comp.bin", "/sparse.bin", "/big/entry_with_a_longish_name_77" }
            .Select(p => fs.Lookup(p) ?? throw new Xunit.Sdk.XunitException($"{p} not found")).ToArray();
        var reference = files.Select(f =>
        {
            var all = new byte[f.Size];
            int n = fs.Read(f, all, 0);
            Assert.Equal(f.Size, n);
            return all;
        }).ToArray();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            var random = new Random(t);
            var buffer = new byte[200_000];
            for (int i = 0; i < 300; i++)
            {
                int k = random.Next(files.Length);
                long size = files[k].Size;
                long offset = random.NextInt64(0, size + 1);
                int length = random.Next(1, buffer.Length);
                int n = fs.Read(files[k], buffer.AsSpan(0, length), offset);
                Assert.Equal((int)Math.Min(length, size - offset), n);
                Assert.True(buffer.AsSpan(0, n).SequenceEqual(reference[k].AsSpan((int)offset, n)), $"{files[k].Path} at {offset}+{n}");
            }
        });
    }
}
