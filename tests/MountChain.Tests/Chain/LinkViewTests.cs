using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Chain;

/// <summary>
/// Views of a chain other than its bytes: one link alone (--single-link), the allocation map and
/// the changed areas between generations, each checked against qemu.
/// </summary>
public sealed class LinkViewTests(ChainCache cache) : IClassFixture<ChainCache>
{
    private static ChainSpec Spec(BaseFormat format, bool zeroed = false) => new()
    {
        Base = format, Depth = 6, Size = 6 << 20, BaseFillPercent = 40,
        ChildWrites = "5x64K,2x200K,3x1536", Alignment = 512, Seed = 11, ZeroedGrain = zeroed,
        ExtraWrites = zeroed ? [new WriteOp(2, 0, 256 << 10, Zero: true), new WriteOp(4, 1 << 20, 128 << 10, Zero: true)] : [],
    };

    public static TheoryData<BaseFormat> Formats() => new(Enum.GetValues<BaseFormat>());

    [QemuTheory]
    [MemberData(nameof(Formats))]
    public void A_single_link_equals_qemu_reading_it_with_backing_null(BaseFormat format)
    {
        var chain = cache.Get(Spec(format));
        foreach (int g in new[] { 0, 1, 4, 6 })
        {
            using var opened = VmdkChain.Open(chain.Files[g], new ChainOpenOptions { SingleLink = true });
            Assert.Equal(0, opened.TopGeneration);
            using var device = opened.OpenGeneration(0);
            Assert.True(chain.ExpectedSingleLinkSha256(g) == Hashing.Sha256(device), $"link {g} alone differs from qemu backing=null");
        }
    }

    [QemuTheory]
    [MemberData(nameof(Formats))]
    public void The_map_agrees_with_qemu_img_map_on_allocation_and_serving_link(BaseFormat format)
    {
        var chain = cache.Get(Spec(format));
        using var opened = VmdkChain.Open(chain.Top);
        foreach (int g in new[] { 0, 3, 6 })
        {
            using var device = opened.OpenGeneration(g);
            var extents = new List<BlockExtent>();
            device.GetExtents(0, device.Length, extents);
            var ours = SectorMap.FromExtents(extents, device.Length);
            var qemu = SectorMap.FromQemu(Qemu.Map(chain.Files[g]), device.Length, g);
            for (int s = 0; s < ours.Length; s++)
                Assert.True(ours[s] == qemu[s], $"generation {g}, sector {s}: ours {ours[s]}, qemu {qemu[s]}");
        }
    }

    [QemuFact]
    public void Zeroed_grains_map_as_zero_and_read_as_zeros_over_a_non_zero_parent()
    {
        var chain = cache.Get(Spec(BaseFormat.MonolithicSparse, zeroed: true) with { BaseFillPercent = 100 });
        using var opened = VmdkChain.Open(chain.Top);
        using var device = opened.OpenGeneration(2);
        var extents = new List<BlockExtent>();
        device.GetExtents(0, device.Length, extents);
        var ours = SectorMap.FromExtents(extents, device.Length);
        var qemu = SectorMap.FromQemu(Qemu.Map(chain.Files[2]), device.Length, 2);
        Assert.Equal(qemu, ours);
        Assert.Contains(ours, s => s.Kind == ExtentKind.Zero);
        // qemu agrees the zeroed range is zero although the base below is full.
        Assert.All(chain.ReadRaw(2, 0, 256 << 10), b => Assert.Equal(0, b));
        Assert.Contains(chain.ReadRaw(0, 0, 256 << 10), b => b != 0);
        var bytes = new byte[256 << 10];
        device.Read(bytes, 0);
        Assert.All(bytes, b => Assert.Equal(0, b));
        for (int g = 0; g <= chain.TopGeneration; g++)
        {
            using var d = opened.OpenGeneration(g);
            Assert.Equal(chain.ExpectedSha256(g), Hashing.Sha256(d));
        }
    }

    [QemuTheory]
    [InlineData(0, 6)]
    [InlineData(2, 3)]
    [InlineData(1, 5)]
    public void Changed_areas_cover_every_changed_byte_and_only_grains_of_the_links_in_between(int from, int to)
    {
        var chain = cache.Get(Spec(BaseFormat.MonolithicSparse, zeroed: true));
        using var opened = VmdkChain.Open(chain.Top);
        var areas = ChangedAreas.Between(opened, from, to);
        long length = opened.CapacitySectors * 512;
        var covered = new bool[length / 512];
        foreach (var (offset, len) in areas)
        {
            Assert.True(offset % 512 == 0 && len % 512 == 0 && offset + len <= length);
            for (long s = offset / 512; s < (offset + len) / 512; s++) covered[s] = true;
        }

        // Every sector whose bytes differ between the two qemu images is reported.
        const int chunk = 64 << 10;
        for (long pos = 0; pos < length; pos += chunk)
        {
            int n = (int)Math.Min(chunk, length - pos);
            var a = chain.ReadRaw(from, pos, n);
            var b = chain.ReadRaw(to, pos, n);
            if (a.AsSpan().SequenceEqual(b)) continue;
            for (int i = 0; i < n; i += 512)
                if (!a.AsSpan(i, 512).SequenceEqual(b.AsSpan(i, 512)))
                    Assert.True(covered[(pos + i) / 512], $"sector {(pos + i) / 512} differs between {from} and {to} but is not reported");
        }

        // Nothing is reported that no link from+1..to allocated (per qemu map of each link alone).
        var allocated = new bool[covered.Length];
        for (int g = from + 1; g <= to; g++)
        {
            var own = SectorMap.AllocatedInLink(chain.Files[g], length);
            for (int s = 0; s < own.Length; s++) allocated[s] |= own[s];
        }
        for (int s = 0; s < covered.Length; s++)
            Assert.False(covered[s] && !allocated[s], $"sector {s} is reported changed but no link {from + 1}..{to} holds it");
    }
}
