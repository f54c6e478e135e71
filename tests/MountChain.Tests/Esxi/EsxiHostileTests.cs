using System.Security.Cryptography;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// Hostile COWD and SESparse deltas (format doc §10.2 items 1–3, 14, 15): each must fail with a
/// one-line error naming the file and the field, quickly, without allocating more than 64 MB,
/// and without changing a byte of any input.
/// </summary>
public sealed class EsxiHostileTests : IDisposable
{
    private readonly TempDirectory _dir = new("esxi-hostile");
    private const long Capacity = 12L << 11;

    public void Dispose() => _dir.Dispose();

    private (string Descriptor, string Delta, CowdDeltaBuilder.Layout Layout) CowdChain()
    {
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", EsxiImageBuilder.Pattern((int)Capacity * 512, 1), 0x11111111);
        var b = EsxiChainTests.Cowd(2);
        string descriptor = b.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        var layout = b.WriteTo(_dir.File("vm-000001-delta.vmdk"));
        return (descriptor, _dir.File("vm-000001-delta.vmdk"), layout);
    }

    private (string Descriptor, string Delta, SeSparseDeltaBuilder.Layout Layout, SeSparseDeltaBuilder Builder) SeSparseChain(long capacity = Capacity)
    {
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", EsxiImageBuilder.Pattern((int)capacity * 512, 1), 0x11111111);
        var b = EsxiChainTests.SeSparse(3, capacity);
        string descriptor = b.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        var layout = b.WriteTo(_dir.File("vm-000001-sesparse.vmdk"));
        return (descriptor, _dir.File("vm-000001-sesparse.vmdk"), layout, b);
    }

    private static void Truncate(string path, long length)
    {
        using var f = new FileStream(path, FileMode.Open);
        f.SetLength(length);
    }

    /// <summary>Opens the chain and reads every byte; returns the one-line error.</summary>
    private string Refusal(string descriptor, string delta)
    {
        var inputs = Directory.GetFiles(_dir.Path).ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var started = DateTime.UtcNow;
        var e = Assert.ThrowsAny<VmdkException>(() => EsxiChainTests.Read(descriptor));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20), "took too long");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 64L << 20, $"allocated {allocated} bytes");
        foreach (var (file, hash) in inputs)
            Assert.Equal(hash, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file))));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(Path.GetFileName(delta), e.Message);
        return e.Message;
    }

    [Theory]
    [InlineData("truncated-header", "too short for its 2048-byte header")]
    [InlineData("truncated-tables", "past the end")]
    [InlineData("absurd-numSectors", "numGDEntries")]
    [InlineData("zero-grainSize", "grainSize 0")]
    [InlineData("absurd-grainSize", "grainSize 1073741824")]
    [InlineData("gd-past-eof", "grain directory (gdOffset")]
    [InlineData("gdOffset-in-header", "gdOffset 2 lies inside")]
    [InlineData("gd-entry-in-header", "grain directory entry 0 points at sector 2, inside the header")]
    [InlineData("gte-past-eof", "past the end of the")]
    [InlineData("gte-in-table", "inside the grain table")]
    [InlineData("gte-overlap", "two grains overlap")]
    [InlineData("gd-loop", "two grain tables overlap")]
    [InlineData("version", "version 2 is not supported")]
    [InlineData("bad-magic", "magic is not 'COWD'")]
    [InlineData("descriptor-capacity", "differs from the descriptor's extent size")]
    public void A_hostile_COWD_delta_is_refused_naming_file_and_field(string variant, string expected)
    {
        var (descriptor, delta, layout) = CowdChain();
        long firstGt = layout.GtSectors.Values.Min();
        long table0Gt = layout.GtSectors[0];
        switch (variant)
        {
            case "truncated-header": Truncate(delta, 1000); break;
            case "truncated-tables": Truncate(delta, (firstGt + 8) * 512); break;
            case "absurd-numSectors": EsxiImageBuilder.PatchU32(delta, 12, 0xFFFFFFFF); break;
            case "zero-grainSize": EsxiImageBuilder.PatchU32(delta, 16, 0); break;
            case "absurd-grainSize": EsxiImageBuilder.PatchU32(delta, 16, 1u << 30); break;
            case "gd-past-eof": EsxiImageBuilder.PatchU32(delta, 20, 0xFFFFFF00); break;
            case "gdOffset-in-header": EsxiImageBuilder.PatchU32(delta, 20, 2); break;
            case "gd-entry-in-header": EsxiImageBuilder.PatchU32(delta, 2048, 2); break;
            case "gte-past-eof": EsxiImageBuilder.PatchU32(delta, table0Gt * 512 + 100 * 4, 0x7FFFFFFF); break;
            case "gte-in-table": EsxiImageBuilder.PatchU32(delta, table0Gt * 512 + 100 * 4, (uint)table0Gt + 3); break;
            case "gte-overlap": EsxiImageBuilder.PatchU32(delta, table0Gt * 512 + 100 * 4, (uint)layout.GrainSectorOf[101]); break;
            case "gd-loop":
                var other = layout.GtSectors.First(kv => kv.Key != 0);
                EsxiImageBuilder.PatchU32(delta, 2048 + other.Key * 4, (uint)table0Gt);
                break;
            case "version": EsxiImageBuilder.PatchU32(delta, 4, 2); break;
            case "bad-magic": EsxiImageBuilder.Patch(delta, 0, "CODW"u8); break;
            case "descriptor-capacity":
                File.WriteAllText(descriptor, File.ReadAllText(descriptor).Replace($"RW {Capacity} VMFSSPARSE", $"RW {Capacity - 8} VMFSSPARSE").Replace($"RW {Capacity} ", $"RW {Capacity} "));
                break;
        }
        string message = variant == "descriptor-capacity"
            ? Assert.ThrowsAny<VmdkException>(() => EsxiChainTests.Read(descriptor)).Message
            : Refusal(descriptor, delta);
        Assert.Contains(expected, message);
    }

    [Theory]
    [InlineData("truncated-header", "too short for its 512-byte header")]
    [InlineData("truncated-pool", "past the end")]
    [InlineData("replay-journal", "replayJournal is set")]
    [InlineData("volatile-magic", "volatile header: magic")]
    [InlineData("flags", "flags 0x0000000000000001")]
    [InlineData("grain-size", "grainSize 16")]
    [InlineData("reserved", "reserved2")]
    [InlineData("absurd-capacity", "over the 64 TiB limit")]
    [InlineData("small-gd", "grainDirSize 0 sectors")]
    [InlineData("gd-past-eof", "grainDirOffset")]
    [InlineData("gd-top-bits", "top bits are not 0x10000000")]
    [InlineData("gd-index-past-eof", "outside the")]
    [InlineData("gd-loop", "name the same grain table")]
    [InlineData("gte-type-5", "type 5 is invalid")]
    [InlineData("gte-type-0-bits", "type 0 (unallocated) with other bits set")]
    [InlineData("gte-past-eof", "outside the")]
    [InlineData("gte-overlap", "two entries name grain")]
    [InlineData("bad-magic", "magic")]
    public void A_hostile_SESparse_delta_is_refused_naming_file_and_field(string variant, string expected)
    {
        long capacity = variant == "gd-loop" ? 40L << 11 : Capacity;
        var (descriptor, delta, layout, builder) = SeSparseChain(capacity);
        if (variant == "gd-loop")
        {
            builder.Grains[4096 + 1] = EsxiImageBuilder.Pattern(4096, 5);
            layout = builder.WriteTo(delta);
        }
        long gt0 = (layout.GtPoolSector + layout.GtPoolIndex[0] * 64) * 512;
        long firstAllocated = builder.Grains.Keys.First();
        switch (variant)
        {
            case "truncated-header": Truncate(delta, 300); break;
            case "truncated-pool": Truncate(delta, (layout.GrainPoolSector + 4) * 512); break;
            case "replay-journal": EsxiImageBuilder.PatchU64(delta, layout.VolatileSector * 512 + 24, 1); break;
            case "volatile-magic": EsxiImageBuilder.PatchU64(delta, layout.VolatileSector * 512, 0xCAFEBABE); break;
            case "flags": EsxiImageBuilder.PatchU64(delta, 40, 1); break;
            case "grain-size": EsxiImageBuilder.PatchU64(delta, 24, 16); break;
            case "reserved": EsxiImageBuilder.PatchU64(delta, 56, 9); break;
            case "absurd-capacity": EsxiImageBuilder.PatchU64(delta, 16, 1UL << 60); break;
            case "small-gd": EsxiImageBuilder.PatchU64(delta, 136, 0); break;
            case "gd-past-eof": EsxiImageBuilder.PatchU64(delta, 128, 1UL << 40); break;
            case "gd-top-bits": EsxiImageBuilder.PatchU64(delta, layout.GdSector * 512, 0x2000000000000000); break;
            case "gd-index-past-eof": EsxiImageBuilder.PatchU64(delta, layout.GdSector * 512, 0x10000000FFFFFF00); break;
            case "gd-loop": EsxiImageBuilder.PatchU64(delta, layout.GdSector * 512 + 8, 0x1000000000000000UL | (ulong)layout.GtPoolIndex[0]); break;
            case "gte-type-5": EsxiImageBuilder.PatchU64(delta, gt0 + firstAllocated * 8, 0x5000000000000000); break;
            case "gte-type-0-bits": EsxiImageBuilder.PatchU64(delta, gt0 + 4095 * 8 - 8 * 8, 0x0000000000000123); break;
            case "gte-past-eof": EsxiImageBuilder.PatchU64(delta, gt0 + firstAllocated * 8, SeSparseDeltaBuilder.AllocatedEntry(1L << 40)); break;
            case "gte-overlap":
                long second = builder.Grains.Keys.Skip(1).First();
                EsxiImageBuilder.PatchU64(delta, gt0 + second * 8, SeSparseDeltaBuilder.AllocatedEntry(layout.ClusterOf[firstAllocated]));
                break;
            case "bad-magic": EsxiImageBuilder.PatchU64(delta, 0, 0xCAFEBABF); break;
        }
        Assert.Contains(expected, Refusal(descriptor, delta));
    }

    [Fact]
    public void A_COWD_delta_with_uncleanShutdown_reads_with_a_warning()
    {
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", EsxiImageBuilder.Pattern((int)Capacity * 512, 1), 0x11111111);
        var b = new CowdDeltaBuilder { CapacitySectors = Capacity, UncleanShutdown = true };
        b.Grains[10] = EsxiImageBuilder.Pattern(512, 3);
        string c1 = b.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        using var chain = VmdkChain.Open(c1);
        Assert.Contains(chain.Links[1].Warnings, w => w.Contains("uncleanShutdown"));
    }

    [Fact]
    public void Raw_device_mappings_and_vSAN_extents_are_refused_clearly()
    {
        string rdm = _dir.File("rdm.vmdk");
        File.WriteAllText(rdm, EsxiImageBuilder.Descriptor("vmfsPassthroughRawDeviceMap", 1, 0xFFFFFFFF, null, 2048, "VMFSRDM", "rdm-rdmp.vmdk"));
        Assert.Contains("raw device mapping", Assert.ThrowsAny<VmdkException>(() => VmdkChain.Open(rdm)).Message);
        string raw = _dir.File("raw.vmdk");
        File.WriteAllText(raw, EsxiImageBuilder.Descriptor("vmfsRaw", 1, 0xFFFFFFFF, null, 2048, "VMFSRAW", "raw-rdm.vmdk"));
        Assert.Contains("raw device mapping", Assert.ThrowsAny<VmdkException>(() => VmdkChain.Open(raw)).Message);
        string vsan = _dir.File("vsan.vmdk");
        File.WriteAllText(vsan, EsxiImageBuilder.Descriptor("vsanSparse", 1, 0xFFFFFFFF, null, 2048, "VSANSPARSE", "vsan://abc"));
        Assert.Contains("vSAN", Assert.ThrowsAny<VmdkException>(() => VmdkChain.Open(vsan)).Message);
    }
}
