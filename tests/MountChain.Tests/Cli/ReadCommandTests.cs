using System.Text.Json;
using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// The read commands of the built `mountchain` executable (run as a child process, as a user
/// would): hash, cat, convert, map, changed, info, each checked against qemu.
/// </summary>
public sealed class ReadCommandTests(ChainCache cache) : IClassFixture<ChainCache>
{
    private static readonly ChainSpec Spec = new()
    {
        Base = BaseFormat.MonolithicSparse, Depth = 4, Size = 6 << 20, BaseFillPercent = 40, ZeroedGrain = true,
        ChildWrites = "4x64K,1x300K,2x1536", Alignment = 512, Seed = 41,
        ExtraWrites = [new WriteOp(3, 2 << 20, 128 << 10, Zero: true)],
    };

    private static ProcessResult Run(params string[] args)
    {
        var r = MountChainCli.Run(args);
        Assert.True(r.ExitCode == 0, $"mountchain {string.Join(' ', args)} exited {r.ExitCode}: {r.Stderr}");
        return r;
    }

    [QemuFact]
    public void Hash_of_each_generation_equals_the_sha256_of_qemus_raw_image()
    {
        var chain = cache.Get(Spec);
        foreach (int g in new[] { 0, 2, 4 })
            Assert.Equal(chain.ExpectedSha256(g), Run("hash", "-g", g.ToString(), chain.Top).Stdout.Split(' ')[0]);
        using var json = JsonDocument.Parse(Run("hash", "--json", chain.Files[3]).Stdout);
        Assert.Equal(chain.ExpectedSha256(3), json.RootElement.GetProperty("sha256").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("generation").GetInt32());
    }

    [QemuFact]
    public void Hash_with_single_link_equals_qemu_reading_the_link_with_backing_null()
    {
        var chain = cache.Get(Spec);
        Assert.Equal(chain.ExpectedSingleLinkSha256(3), Run("hash", "--single-link", chain.Files[3]).Stdout.Split(' ')[0]);
    }

    [QemuFact]
    public void Cat_writes_exactly_qemus_raw_image_to_stdout()
    {
        var chain = cache.Get(Spec);
        var r = Run("cat", "-g", "3", chain.Top);
        Assert.True(File.ReadAllBytes(chain.RawPath(3)).AsSpan().SequenceEqual(r.StdoutBytes), "cat output differs from qemu-img convert");
    }

    [QemuFact]
    public void Convert_writes_qemus_raw_image_and_keeps_holes()
    {
        var chain = cache.Get(Spec);
        string target = Path.Combine(chain.Directory, "converted.raw");
        try
        {
            Run("convert", "-q", "-g", "2", chain.Top, target);
            Assert.Equal(chain.ExpectedSha256(2), Hashing.Sha256File(target));
            long allocated = long.Parse(ProcessRunner.Check("stat", ["-c", "%b", target]).Trim()) * 512;
            Assert.True(allocated < new FileInfo(target).Length * 3 / 4, $"converted image uses {allocated} bytes: holes were filled");
        }
        finally
        {
            File.Delete(target);
        }
    }

    [QemuFact]
    public void Convert_refuses_to_overwrite_its_input()
    {
        var chain = cache.Get(Spec);
        var before = Hashing.Sha256File(chain.Files[1]);
        var r = MountChainCli.Run("convert", "-q", chain.Files[1], chain.Files[1]);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(before, Hashing.Sha256File(chain.Files[1]));
    }

    [QemuFact]
    public void Convert_refuses_to_overwrite_a_parent_link_of_the_chain()
    {
        var chain = cache.Get(Spec);
        var before = Hashing.Sha256File(chain.Files[0]);
        var r = MountChainCli.Run("convert", "-q", "-g", "1", chain.Top, chain.Files[0]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("refusing to overwrite an input file", r.Stderr);
        Assert.Equal(before, Hashing.Sha256File(chain.Files[0]));
    }

    [QemuFact]
    public void Map_json_agrees_with_qemu_img_map()
    {
        var chain = cache.Get(Spec);
        foreach (int g in new[] { 1, 4 })
        {
            using var json = JsonDocument.Parse(Run("map", "--json", "-g", g.ToString(), chain.Top).Stdout);
            var extents = json.RootElement.GetProperty("extents").EnumerateArray().Select(e => new BlockExtent(
                e.GetProperty("offset").GetInt64(), e.GetProperty("sizeBytes").GetInt64(),
                e.GetProperty("kind").GetString() switch { "allocated" => ExtentKind.Data, "zero" => ExtentKind.Zero, _ => ExtentKind.Unallocated },
                e.TryGetProperty("generation", out var gen) ? gen.GetInt32() : -1)).ToList();
            var ours = SectorMap.FromExtents(extents, Spec.Size);
            var qemu = SectorMap.FromQemu(Qemu.Map(chain.Files[g]), Spec.Size, g);
            for (int s = 0; s < ours.Length; s++)
                Assert.True(ours[s] == qemu[s], $"generation {g}, sector {s}: ours {ours[s]}, qemu {qemu[s]}");
        }
    }

    [QemuFact]
    public void Changed_json_covers_every_byte_that_differs_between_the_generations()
    {
        var chain = cache.Get(Spec);
        using var json = JsonDocument.Parse(Run("changed", "--json", "--from", "1", "--to", "4", chain.Top).Stdout);
        var covered = new bool[Spec.Size / 512];
        foreach (var a in json.RootElement.GetProperty("areas").EnumerateArray())
            for (long s = a.GetProperty("offset").GetInt64() / 512; s < (a.GetProperty("offset").GetInt64() + a.GetProperty("sizeBytes").GetInt64()) / 512; s++)
                covered[s] = true;
        var from = File.ReadAllBytes(chain.RawPath(1));
        var to = File.ReadAllBytes(chain.RawPath(4));
        int differing = 0;
        for (int s = 0; s < covered.Length; s++)
            if (!from.AsSpan(s * 512, 512).SequenceEqual(to.AsSpan(s * 512, 512)))
            {
                differing++;
                Assert.True(covered[s], $"sector {s} differs but is not reported");
            }
        Assert.True(differing > 0);
        var allocated = new bool[covered.Length];
        for (int g = 2; g <= 4; g++)
        {
            var own = SectorMap.AllocatedInLink(chain.Files[g], Spec.Size);
            for (int s = 0; s < own.Length; s++) allocated[s] |= own[s];
        }
        for (int s = 0; s < covered.Length; s++)
            Assert.False(covered[s] && !allocated[s], $"sector {s} reported but not allocated in links 2..4");
    }

    [QemuFact]
    public void Info_json_lists_every_link_with_its_CIDs_and_hints()
    {
        var chain = cache.Get(Spec);
        using var json = JsonDocument.Parse(Run("info", "--json", chain.Top).Stdout);
        var links = json.RootElement.GetProperty("links").EnumerateArray().ToList();
        Assert.Equal(5, links.Count);
        Assert.Equal(Spec.Size, json.RootElement.GetProperty("sizeBytes").GetInt64());
        using var opened = VmdkChain.Open(chain.Top);
        for (int g = 0; g < 5; g++)
        {
            Assert.Equal(chain.Files[g], links[g].GetProperty("file").GetString());
            Assert.Equal(opened.Links[g].Cid.ToString("x8"), links[g].GetProperty("cid").GetString());
            Assert.Equal("ok", links[g].GetProperty("validation").GetString());
            if (g > 0)
            {
                Assert.Equal(links[g - 1].GetProperty("cid").GetString(), links[g].GetProperty("parentCid").GetString());
                Assert.Equal(Path.GetFileName(chain.Files[g - 1]), links[g].GetProperty("parentHint").GetString());
            }
        }
        Assert.True(links[3].GetProperty("zeroBytes").GetInt64() >= 128 << 10, "the zeroed range of link 3 is counted");
    }

    [QemuFact]
    public void Info_warns_when_the_redundant_grain_directory_had_to_be_used()
    {
        using var dir = new TempDirectory("info-rgd");
        string path = dir.File("rgd.vmdk");
        Qemu.Img(dir.Path, "create", "-q", "-f", "vmdk", path, "64M");
        Qemu.Io(dir.Path, path, ["write -q -P 0x51 0 128k"]);
        long gd = (long)SparseFileEditor.ReadU64(path, SparseFileEditor.GdOffsetOffset);
        SparseFileEditor.WriteU32(path, gd * 512, 0x7FFFFFF0);
        var r = Run("info", path);
        Assert.Contains("redundant grain directory", r.Stdout);
        Assert.Contains("warning", r.Stdout);
    }
}
