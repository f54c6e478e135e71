using System.Security.Cryptography;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// ESXi chains built by hand (VMFS flat base + COWD or SESparse deltas, hosted sparse children
/// made by qemu on top): every generation must equal both our model and `qemu-img convert`.
/// </summary>
public sealed class EsxiChainTests : IDisposable
{
    private readonly TempDirectory _dir = new("esxi");

    public void Dispose() => _dir.Dispose();

    private const long Capacity = 12L << 11; // 12 MiB: six COWD tables, one SESparse table

    internal static byte[] Read(string path, int? generation = null)
    {
        using var chain = VmdkChain.Open(path);
        using var device = chain.OpenGeneration(generation ?? chain.TopGeneration);
        var bytes = new byte[device.Length];
        device.Read(bytes, 0);
        return bytes;
    }

    private byte[] QemuRaw(string path)
    {
        string raw = _dir.File($"qemu-{Guid.NewGuid():N}.raw");
        Qemu.ConvertToRaw(path, raw);
        return File.ReadAllBytes(raw);
    }

    internal static void AssertSame(byte[] expected, byte[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int i = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(i == expected.Length, $"{what}: first difference at byte {i}");
    }

    private byte[] BaseRaw()
    {
        var raw = EsxiImageBuilder.Pattern((int)Capacity * 512, 1);
        raw.AsSpan(3 << 20, 1 << 20).Clear(); // a zero stretch in the base
        return raw;
    }

    internal static CowdDeltaBuilder Cowd(int seed, uint grainSectors = 1)
    {
        var b = new CowdDeltaBuilder { CapacitySectors = Capacity, GrainSectors = grainSectors };
        var rng = new Random(seed);
        for (int i = 0; i < 40; i++)
            b.Grains[rng.NextInt64(Capacity / grainSectors)] = EsxiImageBuilder.Pattern((int)grainSectors * 512, seed * 100 + i);
        for (long g = 100; g < 140; g++) b.Grains[g] = EsxiImageBuilder.Pattern((int)grainSectors * 512, seed * 1000 + (int)g); // a contiguous run
        b.Grains[Capacity / grainSectors - 1] = EsxiImageBuilder.Pattern((int)grainSectors * 512, seed + 7); // the last grain
        return b;
    }

    internal static SeSparseDeltaBuilder SeSparse(int seed, long capacity = Capacity)
    {
        var b = new SeSparseDeltaBuilder { CapacitySectors = capacity };
        var rng = new Random(seed);
        long grains = (capacity + 7) / 8;
        for (int i = 0; i < 40; i++) b.Grains[rng.NextInt64(grains)] = EsxiImageBuilder.Pattern(4096, seed * 100 + i);
        for (long g = 200; g < 230; g++) b.Grains[g] = EsxiImageBuilder.Pattern(4096, seed * 1000 + (int)g);
        for (int i = 0; i < 10; i++) { long g = rng.NextInt64(grains); if (!b.Grains.ContainsKey(g)) b.ZeroGrains.Add(g); }
        for (int i = 0; i < 10; i++) { long g = rng.NextInt64(grains); if (!b.Grains.ContainsKey(g) && !b.ZeroGrains.Contains(g)) b.UnmappedGrains.Add(g); }
        b.ZeroGrains.Add(3 << 8); // inside the base's zero stretch... and one over data:
        b.UnmappedGrains.Remove(5); b.Grains.Remove(5); b.ZeroGrains.Add(5);
        return b;
    }

    [QemuFact]
    public void Every_generation_of_a_VMFS_base_with_two_COWD_deltas_equals_qemu()
    {
        var g0 = BaseRaw();
        string base0 = EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", g0, 0x11111111);
        var d1 = Cowd(2);
        string c1 = d1.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        var d2 = Cowd(3);
        string c2 = d2.WriteLink(_dir.Path, "vm-000002", 0x33333333, 0x22222222, "vm-000001.vmdk");
        var g1 = d1.Apply(g0);
        var g2 = d2.Apply(g1);

        AssertSame(g2, Read(c2), "generation 2 ours vs model");
        AssertSame(g2, QemuRaw(c2), "generation 2 qemu vs model");
        AssertSame(g1, Read(c2, 1), "generation 1 ours vs model");
        AssertSame(g1, QemuRaw(c1), "generation 1 qemu vs model");
        AssertSame(g0, Read(c2, 0), "generation 0 ours");
        AssertSame(QemuRaw(base0), Read(c2, 0), "generation 0 ours vs qemu");
    }

    [QemuFact]
    public void A_COWD_delta_with_8_sector_grains_equals_qemu()
    {
        var g0 = BaseRaw();
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", g0, 0x11111111);
        var d1 = Cowd(4, grainSectors: 8);
        string c1 = d1.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        AssertSame(d1.Apply(g0), Read(c1), "ours vs model");
        AssertSame(d1.Apply(g0), QemuRaw(c1), "qemu vs model");
    }

    [QemuFact]
    public void Every_generation_of_a_VMFS_base_with_two_SESparse_deltas_equals_qemu()
    {
        var g0 = BaseRaw();
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", g0, 0x11111111);
        var d1 = SeSparse(5);
        string c1 = d1.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        var d2 = SeSparse(6);
        string c2 = d2.WriteLink(_dir.Path, "vm-000002", 0x33333333, 0x22222222, "vm-000001.vmdk");
        var g1 = d1.Apply(g0);
        var g2 = d2.Apply(g1);
        AssertSame(g2, Read(c2), "generation 2 ours vs model");
        AssertSame(g2, QemuRaw(c2), "generation 2 qemu vs model");
        AssertSame(g1, Read(c2, 1), "generation 1 ours vs model");
        AssertSame(g1, QemuRaw(c1), "generation 1 qemu vs model");
        AssertSame(g0, Read(c2, 0), "generation 0");
    }

    [QemuFact]
    public void A_SESparse_delta_spanning_two_grain_tables_with_a_partial_last_grain_equals_qemu()
    {
        long capacity = (40L << 11) + 3; // 40 MiB + 3 sectors: three tables, partial last grain
        var g0 = EsxiImageBuilder.Pattern((int)capacity * 512, 9);
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "big", g0, 0x1);
        var d1 = SeSparse(7, capacity);
        d1.Grains[(capacity - 1) / 8] = EsxiImageBuilder.Pattern(4096, 77);
        d1.Grains[4096 + 17] = EsxiImageBuilder.Pattern(4096, 78);
        string c1 = d1.WriteLink(_dir.Path, "big-000001", 0x2, 0x1, "big.vmdk");
        AssertSame(d1.Apply(g0), Read(c1), "ours vs model");
        AssertSame(d1.Apply(g0), QemuRaw(c1), "qemu vs model");
    }

    [QemuTheory]
    [InlineData("cowd")]
    [InlineData("sesparse")]
    public void Hosted_sparse_children_made_by_qemu_on_an_ESXi_chain_read_like_qemu(string kind)
    {
        var g0 = BaseRaw();
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", g0, 0x11111111);
        string c1 = kind == "cowd"
            ? Cowd(8).WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk")
            : SeSparse(8).WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", "vm-000001.vmdk", "-F", "vmdk", "top.vmdk");
        Qemu.Io(_dir.Path, "top.vmdk", ["write -P 0x5a 1M 64k", "write -P 0x33 5000k 4k", "write -z 8M 64k"]);
        string top = _dir.File("top.vmdk");
        using (var chain = VmdkChain.Open(top)) Assert.Equal(2, chain.TopGeneration);
        AssertSame(QemuRaw(top), Read(top), "top generation ours vs qemu");
        AssertSame(QemuRaw(c1), Read(top, 1), "generation 1 ours vs qemu");
    }

    [QemuFact]
    public void The_CLI_hashes_and_describes_an_ESXi_generation()
    {
        var g0 = BaseRaw();
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", g0, 0x11111111);
        var d1 = SeSparse(10);
        string c1 = d1.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        var d2 = Cowd(11);
        string c2 = d2.WriteLink(_dir.Path, "vm-000002", 0x33333333, 0x22222222, "vm-000001.vmdk");
        var hash = MountChainCli.Run("hash", c2, "-g", "1");
        Assert.True(hash.ExitCode == 0, hash.Stderr);
        Assert.StartsWith(Convert.ToHexStringLower(SHA256.HashData(QemuRaw(c1))), hash.Stdout);
        var info = MountChainCli.Run("info", c2);
        Assert.True(info.ExitCode == 0, info.Stderr + info.Stdout);
        Assert.Contains("createType: seSparse", info.Stdout);
        Assert.Contains("createType: vmfsSparse", info.Stdout);
        Assert.Contains("createType: vmfs", info.Stdout);
        Assert.Contains("grain: 4096 bytes", info.Stdout);
        Assert.Contains("grain: 512 bytes", info.Stdout);
        Assert.Contains("mixes vmfsSparse (COWD) and SESparse", info.Stdout);
    }
}
