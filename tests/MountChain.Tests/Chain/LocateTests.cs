using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Chain;

/// <summary>
/// <see cref="IFileRangeSource.TryDescribe"/> (what zero-copy extraction copies from) names exactly the
/// bytes qemu-img shows for the generation: file spans read back through their handles, and zero
/// spans where the chain holds zeros, for every uncompressed base format; a compressed grain is
/// refused so callers read instead.
/// </summary>
public sealed class LocateTests(ChainCache cache) : IClassFixture<ChainCache>
{
    private static ChainSpec Spec(BaseFormat format) => new()
    {
        Base = format, Depth = 3, Size = 6 << 20, BaseFillPercent = 60, Data = DataKind.Random,
        ChildWrites = "4x64K,2x200704,3x1536", Alignment = 512, Seed = 31, ZeroedGrain = format != BaseFormat.MonolithicFlat,
        ExtraWrites = [new WriteOp(2, 1 << 20, 256 << 10, Zero: true), new WriteOp(3, 3 << 20, 4096, Zero: true)],
    };

    [QemuTheory]
    [InlineData(BaseFormat.MonolithicSparse)]
    [InlineData(BaseFormat.TwoGbMaxExtentSparse)]
    [InlineData(BaseFormat.MonolithicFlat)]
    public void Located_spans_hold_the_bytes_of_every_generation(BaseFormat format)
    {
        var chain = cache.Get(Spec(format));
        using var opened = VmdkChain.Open(chain.Top);
        var rng = new Random(5);
        for (int g = 0; g <= chain.TopGeneration; g++)
        {
            using var device = opened.OpenGeneration(g);
            // The whole disk, then ranges at odd offsets that cut grains and runs.
            var ranges = new List<(long, int)> { (0, (int)device.Length) };
            for (int i = 0; i < 40; i++)
            {
                long offset = rng.NextInt64(device.Length - 1);
                ranges.Add((offset, (int)Math.Min(device.Length - offset, 1 + rng.Next(700_000))));
            }
            foreach (var (offset, length) in ranges)
            {
                var spans = new List<FileRange>();
                Assert.True(device.TryDescribe(offset, length, spans), $"{format} generation {g}: {offset}+{length} not located");
                Assert.Equal(length, spans.Sum(s => s.Length));
                Assert.True(chain.ReadRaw(g, offset, length).AsSpan().SequenceEqual(ReadSpans(spans)),
                    $"{format} generation {g}: located bytes at {offset}+{length} differ from qemu-img convert");
            }
        }
    }

    [QemuFact]
    public void A_compressed_grain_is_not_located()
    {
        var chain = cache.Get(Spec(BaseFormat.StreamOptimized));
        using var opened = VmdkChain.Open(chain.Top);
        using var device = opened.OpenGeneration(0);
        Assert.False(device.TryDescribe(0, (int)device.Length, []));
    }

    private static byte[] ReadSpans(List<FileRange> spans)
    {
        var bytes = new byte[spans.Sum(s => s.Length)];
        int at = 0;
        foreach (var span in spans)
        {
            if (span.Handle != null)
                Assert.Equal(span.Length, RandomAccess.Read(span.Handle, bytes.AsSpan(at, span.Length), span.FileOffset));
            at += span.Length;
        }
        return bytes;
    }
}
