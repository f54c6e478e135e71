using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// --json wherever a script wants a result (issue 14): convert, extract, files-hash, serve, mount
/// print one object; a failing --json run prints its error as a JSON object on stderr.
/// </summary>
public sealed class JsonOutputTests : IDisposable
{
    private readonly TempDirectory _dir = new("jsonout");

    public void Dispose() => _dir.Dispose();

    private static JsonElement Object(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = JsonDocument.Parse(r.StdoutBytes).RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        return root;
    }

    /// <summary>Names a byte count may not have: every size is "sizeBytes", every amount "...Bytes".</summary>
    private static readonly string[] OtherSpellingsOfSizes = ["size", "length", "bytes", "capacity", "capacityBytes", "lengthBytes", "sizeBefore", "sizeAfter"];

    private static IEnumerable<string> PropertyNames(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().SelectMany(p => PropertyNames(p.Value).Prepend(p.Name)),
        JsonValueKind.Array => e.EnumerateArray().SelectMany(PropertyNames),
        _ => [],
    };

    [FileSystemToolsFact("mkfs.ext4")]
    public void Every_json_output_is_one_object_with_one_spelling_of_sizes()
    {
        string content = _dir.Dir("content");
        File.WriteAllText(Path.Combine(content, "a.txt"), "alpha\n");
        string raw = _dir.File("ext4.img");
        ProcessRunner.Bash($"truncate -s 16M {raw} && mkfs.ext4 -q -F -d {content} {raw}");
        string chain = _dir.Dir("chain"), baseVmdk = Path.Combine(chain, "base.vmdk"), child = Path.Combine(chain, "child.vmdk");
        Qemu.Img(chain, "convert", "-O", "vmdk", raw, baseVmdk);
        Qemu.Img(chain, "create", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", child);
        Qemu.Io(chain, child, ["write -P 0x11 15M 64K"]);
        string[][] commands =
        [
            ["info", child], ["hash", child], ["map", child], ["changed", child, "--from", "0", "--to", "1"],
            ["diff", child, "--from", "0", "--to", "1"], ["diff", child, "--from", "0", "--to", "1", "--files"],
            ["volumes", child], ["ls", child, "p0:/", "-r"], ["files-hash", child], ["check", child], ["tree", chain],
            ["extract", child, "p0:/a.txt", _dir.File("out")], ["convert", child, _dir.File("copy.raw")],
            ["bench", child, "--mode", "random", "--count", "100"], ["create-child", child, _dir.File("kid.vmdk")],
        ];
        foreach (var command in commands)
        {
            var root = Object(MountChainCli.Run([.. command, "--json"]));
            var wrong = PropertyNames(root).Intersect(OtherSpellingsOfSizes).ToList();
            Assert.True(wrong.Count == 0, $"{command[0]} --json: {string.Join(", ", wrong)}");
        }
        Assert.Equal(16 << 20, Object(MountChainCli.Run("info", child, "--json")).GetProperty("sizeBytes").GetInt64());
        var volumes = Object(MountChainCli.Run("volumes", child, "--json"));
        Assert.Equal(1, volumes.GetProperty("generation").GetInt32());
        Assert.Equal(16 << 20, volumes.GetProperty("volumes")[0].GetProperty("sizeBytes").GetInt64());
        var entries = Object(MountChainCli.Run("ls", child, "p0:/", "--json")).GetProperty("entries");
        Assert.Equal(6, entries.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "a.txt").GetProperty("sizeBytes").GetInt64());
        var map = Object(MountChainCli.Run("map", child, "--json"));
        Assert.Equal(16L << 20, map.GetProperty("extents").EnumerateArray().Sum(e => e.GetProperty("sizeBytes").GetInt64()));
    }

    [Fact]
    public void Errors_are_json_objects_on_stderr_with_json()
    {
        string missing = _dir.File("missing.vmdk");
        var r = MountChainCli.Run("hash", missing, "--json");
        Assert.Equal(1, r.ExitCode);
        var error = JsonDocument.Parse(r.Stderr).RootElement;
        Assert.Contains(missing, error.GetProperty("error").GetString());
        Assert.Equal(1, error.GetProperty("exitCode").GetInt32());

        var usage = MountChainCli.Run("diff", missing, "--from", "x", "--to", "1", "--json");
        Assert.Equal(2, usage.ExitCode);
        Assert.Equal(2, JsonDocument.Parse(usage.Stderr).RootElement.GetProperty("exitCode").GetInt32());
    }

    [FileSystemToolsFact("mkfs.ext4")]
    public void Convert_extract_and_files_hash_print_one_object()
    {
        string content = _dir.Dir("content");
        File.WriteAllText(Path.Combine(content, "a.txt"), "alpha\n");
        string image = _dir.File("ext4.img");
        ProcessRunner.Bash($"truncate -s 16M {image} && mkfs.ext4 -q -F -d {content} {image}");

        var converted = Object(MountChainCli.Run("convert", image, _dir.File("copy.raw"), "--json"));
        Assert.Equal(16 << 20, converted.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(_dir.File("copy.raw"), converted.GetProperty("target").GetString());

        var hashes = Object(MountChainCli.Run("files-hash", image, "--partition", "0", "--json"));
        Assert.Equal("p0", hashes.GetProperty("volume").GetString());
        var file = Assert.Single(hashes.GetProperty("files").EnumerateArray(), f => f.GetProperty("path").GetString()!.EndsWith("a.txt"));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("alpha\n"u8)), file.GetProperty("sha256").GetString());

        var extracted = Object(MountChainCli.Run("extract", image, "p0:/a.txt", _dir.File("out"), "--json"));
        Assert.Equal(1, extracted.GetProperty("files").GetInt64());
        Assert.Equal(6, extracted.GetProperty("copiedBytes").GetInt64());
    }

    [Fact]
    public async Task Serve_says_where_it_listens_as_json()
    {
        string image = _dir.RandomImage("disk.raw", 1 << 20);
        using var server = Process.Start(MountChainCli.StartInfo("serve", image, "--listen", "127.0.0.1:0", "--json"))!;
        try
        {
            var text = new StringBuilder();
            var read = Task.Run(() =>
            {
                while (server.StandardOutput.ReadLine() is { } line)
                {
                    text.AppendLine(line);
                    if (line == "}") return;
                }
            });
            Assert.True(await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(60))) == read, "no JSON within 60 s: " + text);
            var ready = JsonDocument.Parse(text.ToString()).RootElement;
            Assert.StartsWith("nbd://127.0.0.1:", ready.GetProperty("uri").GetString());
            Assert.False(ready.GetProperty("writable").GetBoolean());
        }
        finally { server.Kill(); server.WaitForExit(10_000); }
    }

    [RequiresFuseFact]
    public void Mount_prints_one_object_once_it_serves()
    {
        string image = _dir.RandomImage("disk.raw", 1 << 20);
        string mp = _dir.Dir("mnt");
        try
        {
            var mounted = Object(MountChainCli.Run("mount", image, mp, "--json"));
            Assert.Equal(mp, mounted.GetProperty("mountPoint").GetString());
            Assert.True(File.Exists(Path.Combine(mp, "disk.raw")));
        }
        finally { MountChainCli.Run("unmount", "--lazy", mp); }
    }
}
