using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MountChain.Tests.Chain;

/// <summary>
/// Every generation we present is byte-identical to what `qemu-img convert -O raw` makes of the
/// same file, across base subformats, depths, fills, write sizes, alignments and data.
/// </summary>
public sealed class GenerationEqualityTests(ChainCache cache, ITestOutputHelper output) : IClassFixture<ChainCache>
{
    /// <summary>One depth-10 chain per base format; opening c_d gives a chain of depth d.</summary>
    private static ChainSpec Deep(BaseFormat format) => new()
    {
        Base = format, Depth = 10, Size = 8 << 20, BaseFillPercent = 60,
        ChildWrites = "6x64K,2x300K,3x1536", Alignment = 4096, Seed = 7,
    };

    public static TheoryData<BaseFormat> Formats() => new(Enum.GetValues<BaseFormat>());

    public static TheoryData<BaseFormat, int> FormatsAndDepths()
    {
        var data = new TheoryData<BaseFormat, int>();
        foreach (var f in Enum.GetValues<BaseFormat>())
            foreach (int d in new[] { 0, 1, 3, 10 })
                data.Add(f, d);
        return data;
    }

    private void AssertEveryGenerationEqualsQemu(BuiltChain chain, string top, int expectedTop)
    {
        using var opened = VmdkChain.Open(top);
        Assert.Equal(expectedTop, opened.TopGeneration);
        for (int g = 0; g <= expectedTop; g++)
        {
            using var device = opened.OpenGeneration(g);
            Assert.Equal(chain.RawLength(g), device.Length);
            string ours = Hashing.Sha256(device);
            Assert.True(chain.ExpectedSha256(g) == ours, $"generation {g} of {chain.Spec} differs from qemu-img convert");
        }
    }

    [QemuTheory]
    [MemberData(nameof(FormatsAndDepths))]
    public void Every_generation_equals_qemu_convert_for_each_base_format_and_depth(BaseFormat format, int depth)
    {
        var chain = cache.Get(Deep(format));
        output.WriteLine($"{chain.Spec}: built in {chain.BuildTime.TotalSeconds:0.0}s");
        AssertEveryGenerationEqualsQemu(chain, chain.Files[depth], depth);
    }

    [QemuTheory]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(65536)]
    [InlineData(1 << 20)]
    public void Writes_at_any_alignment_read_back_like_qemu(int alignment)
    {
        var chain = cache.Get(new ChainSpec
        {
            Depth = 3, Size = 8 << 20, BaseFillPercent = 30, Alignment = alignment,
            ChildWrites = "5x1536,3x70144,1x1M,4x512", Seed = alignment,
        });
        AssertEveryGenerationEqualsQemu(chain, chain.Top, 3);
    }

    [QemuTheory]
    [InlineData(BaseFormat.MonolithicSparse)]
    [InlineData(BaseFormat.StreamOptimized)]
    [InlineData(BaseFormat.TwoGbMaxExtentSparse)]
    [InlineData(BaseFormat.MonolithicFlat)]
    public void Random_data_reads_back_like_qemu(BaseFormat format)
    {
        var chain = cache.Get(new ChainSpec
        {
            Base = format, Depth = 3, Size = 6 << 20, BaseFillPercent = 70, Data = DataKind.Random,
            ChildWrites = "4x64K,2x200704,3x4096", Alignment = 512, Seed = 99,
        });
        AssertEveryGenerationEqualsQemu(chain, chain.Top, 3);
    }

    [QemuTheory]
    [InlineData(0)]
    [InlineData(100)]
    public void Empty_and_full_bases_read_back_like_qemu(int fill)
    {
        var chain = cache.Get(new ChainSpec { Depth = 2, Size = 4 << 20, BaseFillPercent = fill, ChildWrites = "3x64K,1x8K", Seed = fill + 3 });
        AssertEveryGenerationEqualsQemu(chain, chain.Top, 2);
    }

    [QemuTheory]
    [MemberData(nameof(Formats))]
    public void A_capacity_that_is_not_a_multiple_of_the_grain_reads_back_like_qemu(BaseFormat format)
    {
        long size = (100L << 20) + 512; // qemu accepts it: the last grain holds one sector
        var chain = cache.Get(new ChainSpec
        {
            Base = format, Depth = 2, Size = size, BaseFillPercent = 2, ChildWrites = "3x64K", Seed = 5,
            ExtraWrites = [new WriteOp(0, size - 512, 512), new WriteOp(1, size - 4096, 4096), new WriteOp(2, size - 1024, 1024)],
        });
        using var opened = VmdkChain.Open(chain.Top);
        Assert.Equal(size, opened.CapacitySectors * 512);
        AssertEveryGenerationEqualsQemu(chain, chain.Top, 2);
    }

    [QemuFact]
    public void Opening_each_link_directly_gives_the_same_bytes_as_choosing_its_generation_from_the_top()
    {
        var chain = cache.Get(Deep(BaseFormat.MonolithicSparse));
        using var fromTop = VmdkChain.Open(chain.Top);
        foreach (int g in new[] { 2, 6 })
        {
            using var direct = VmdkChain.Open(chain.Files[g]);
            using var a = direct.OpenGeneration(direct.TopGeneration);
            using var b = fromTop.OpenGeneration(g);
            Assert.Equal(Hashing.Sha256(a), Hashing.Sha256(b));
        }
    }
}
