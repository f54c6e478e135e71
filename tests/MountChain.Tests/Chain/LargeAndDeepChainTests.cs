using System.Diagnostics;
using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MountChain.Tests.Chain;

/// <summary>A disk larger than 2 GiB (split extents) and a chain of more than 255 links.</summary>
public sealed class LargeAndDeepChainTests(ChainCache cache, ITestOutputHelper output) : IClassFixture<ChainCache>
{
    private const long TwoGiB = 2L << 30;

    /// <summary>2.5 GiB twoGbMaxExtentSparse: extents of 2 GiB + 512 MiB; writes straddle the extent boundary.</summary>
    private static readonly ChainSpec Split = new()
    {
        Base = BaseFormat.TwoGbMaxExtentSparse, Depth = 2, Size = 2560L << 20, BaseFillPercent = 0,
        ChildWrites = "3x64K", Alignment = 65536, Seed = 3,
        ExtraWrites =
        [
            new WriteOp(0, 0, 1 << 20),
            new WriteOp(0, TwoGiB - 65536, 131072),      // last grain of extent 1 + first of extent 2
            new WriteOp(0, (2560L << 20) - 65536, 65536), // last grain of the disk
            new WriteOp(1, TwoGiB - 4096, 8192),          // partial grains on both sides of the boundary
            new WriteOp(2, TwoGiB - 512, 1024),
            new WriteOp(2, TwoGiB + (7 << 20), 4096),
        ],
    };

    [QemuFact]
    public void A_split_disk_over_2_GiB_reads_like_qemu_in_every_generation()
    {
        var chain = cache.Get(Split);
        using var opened = VmdkChain.Open(chain.Top);
        Assert.Equal(2, opened.Links[0].Extents.Count);
        for (int g = 0; g <= 2; g++)
        {
            using var device = opened.OpenGeneration(g);
            Assert.Equal(2560L << 20, device.Length);
            var clock = Stopwatch.StartNew();
            long difference = Hashing.FirstDifference(device, chain.RawPath(g));
            output.WriteLine($"generation {g}: compared 2.5 GiB in {clock.Elapsed.TotalSeconds:0.0}s");
            Assert.True(difference < 0, $"generation {g} differs from qemu's raw image in the 4 MiB block at {difference}");
        }
    }

    [QemuFact]
    public void Reads_that_cross_the_extent_boundary_return_qemus_bytes()
    {
        var chain = cache.Get(Split);
        using var opened = VmdkChain.Open(chain.Top);
        using var device = opened.OpenGeneration(2);
        foreach (var (offset, length) in new[] { (TwoGiB - 700, 1400), (TwoGiB - 65536 - 3, 200000), (TwoGiB - 1, 2) })
        {
            var buffer = new byte[length];
            device.Read(buffer, offset);
            Assert.Equal(chain.ReadRaw(2, offset, length), buffer);
        }
    }

    /// <summary>300 links of a 4 MiB disk, one small write each, made by qemu without re-opening the chain per link.</summary>
    private static readonly ChainSpec Deep = new()
    {
        Depth = 300, Size = 4 << 20, BaseFillPercent = 50, ChildWrites = "1x4K", Alignment = 4096, Seed = 300,
        IsolatedChildren = true,
    };

    [QemuFact]
    public void A_chain_of_300_links_opens_and_every_sampled_generation_equals_qemu()
    {
        var chain = cache.Get(Deep);
        output.WriteLine($"built {chain.Files.Count} links in {chain.BuildTime.TotalSeconds:0.0}s");
        var clock = Stopwatch.StartNew();
        using var opened = VmdkChain.Open(chain.Top);
        output.WriteLine($"opened in {clock.Elapsed.TotalMilliseconds:0}ms");
        Assert.Equal(300, opened.TopGeneration);
        foreach (int g in new[] { 0, 1, 128, 255, 256, 299, 300 })
        {
            using var device = opened.OpenGeneration(g);
            Assert.True(chain.ExpectedSha256(g) == Hashing.Sha256(device), $"generation {g} differs from qemu");
        }
    }
}
