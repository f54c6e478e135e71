using CsCheck;
using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Chain;

/// <summary>Arbitrary reads (any offset, 1 byte … 4 MiB) and concurrent readers return qemu's bytes.</summary>
public sealed class RandomReadPropertyTests(ChainCache cache) : IClassFixture<ChainCache>
{
    private static readonly ChainSpec Spec = new()
    {
        Base = BaseFormat.StreamOptimized, Depth = 5, Size = 12 << 20, BaseFillPercent = 60, Data = DataKind.Random,
        ChildWrites = "6x64K,2x300K,4x1536", Alignment = 512, Seed = 21,
    };

    private static readonly ChainSpec SparseSpec = Spec with { Base = BaseFormat.MonolithicSparse, Seed = 22 };

    [QemuTheory]
    [InlineData(BaseFormat.StreamOptimized)]
    [InlineData(BaseFormat.MonolithicSparse)]
    public void Any_read_range_equals_the_raw_image(BaseFormat format)
    {
        var chain = cache.Get(format == BaseFormat.StreamOptimized ? Spec : SparseSpec);
        using var opened = VmdkChain.Open(chain.Top);
        var raw = File.ReadAllBytes(chain.RawPath(5));
        using var device = opened.OpenGeneration(5);
        long size = device.Length;
        var gen = Gen.Select(Gen.Long[0, size - 1], Gen.Int[1, 4 << 20], Gen.Bool)
            .Select((offset, length, small) =>
            {
                int len = small ? 1 + length % 9000 : length; // many short reads, some long ones
                return (Offset: offset, Length: (int)Math.Min(len, size - offset));
            });
        gen.Sample(r =>
        {
            var buffer = new byte[r.Length];
            device.Read(buffer, r.Offset);
            return buffer.AsSpan().SequenceEqual(raw.AsSpan((int)r.Offset, r.Length));
        }, iter: 300);
    }

    [QemuFact]
    public void Concurrent_readers_on_one_generation_agree_with_the_raw_image()
    {
        var chain = cache.Get(Spec);
        using var opened = VmdkChain.Open(chain.Top);
        foreach (int g in new[] { 5, 2 })
        {
            var raw = File.ReadAllBytes(chain.RawPath(g));
            using var device = opened.OpenGeneration(g); // fresh map: threads race to build regions
            long size = device.Length;
            var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
            Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, t =>
            {
                var rng = new Random(1000 + t);
                var buffer = new byte[1 << 20];
                for (int i = 0; i < 150; i++)
                {
                    long offset = rng.NextInt64(size);
                    int length = (int)Math.Min(rng.Next(1, buffer.Length), size - offset);
                    device.Read(buffer.AsSpan(0, length), offset);
                    if (!buffer.AsSpan(0, length).SequenceEqual(raw.AsSpan((int)offset, length)))
                        failures.Add($"thread {t}: read {length} at {offset}");
                }
            });
            Assert.Empty(failures);
        }
    }
}
