using MountChain.Core.Chain;
using MountChain.Nbd.Server;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.Nbd;

/// <summary>Serving generations of a real VMDK snapshot chain built by qemu-img, checked against qemu's own reading of the chain.</summary>
public sealed class NbdChainTests
{
    private const int MiB = 1024 * 1024;

    /// <summary>base ← s1 ← s2, 32 MiB, each link writing its own patterns.</summary>
    private static string[] BuildChain(TempDirectory dir)
    {
        string b = dir.File("base.vmdk"), s1 = dir.File("s1.vmdk"), s2 = dir.File("s2.vmdk");
        Check("qemu-img", "create", "-q", "-f", "vmdk", b, "32M");
        Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x11 0 4M", "-c", "write -P 0x12 8M 1M", b);
        Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", b, "-F", "vmdk", s1);
        Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x21 1M 1M", s1);
        Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", s1, "-F", "vmdk", s2);
        Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x31 2M 512k", "-c", "write -P 0x32 20M 1M", s2);
        return [b, s1, s2];
    }

    [NbdToolsFact]
    public async Task Every_generation_served_over_nbd_equals_qemu_reading_that_link()
    {
        using var dir = new TempDirectory();
        var links = BuildChain(dir);
        using var chain = VmdkChain.Open(links[2]);
        for (int g = 0; g <= 2; g++)
        {
            string expected = dir.File($"qemu-g{g}.raw");
            Check("qemu-img", "convert", "-f", "vmdk", "-O", "raw", links[g], expected);
            using var device = chain.OpenGeneration(g);
            await using var server = new NbdTestServer(device, new NbdServerOptions { TopGeneration = g });
            string served = dir.File($"nbd-g{g}.raw");
            Check("nbdcopy", server.Uri, served);
            Assert.Equal(Hashing.Sha256File(expected), Hashing.Sha256File(served));
            var compare = Run("qemu-img", ["compare", "-f", "vmdk", "-F", "raw", links[g], server.Uri]);
            Assert.True(compare.ExitCode == 0, compare.All);
        }
    }

    [NbdToolsFact]
    public async Task Generation_context_of_a_real_chain_names_the_link_holding_each_range()
    {
        using var dir = new TempDirectory();
        var links = BuildChain(dir);
        using var chain = VmdkChain.Open(links[2]);
        using var device = chain.OpenGeneration(2);
        await using var server = new NbdTestServer(device, new NbdServerOptions { TopGeneration = 2 });

        var generation = CheckResult("nbdinfo", "--map=mountchain:generation", server.Uri).Stdout;
        uint At(long offset) => StatusAt(generation, offset);
        Assert.Equal(1u, At(0));            // base
        Assert.Equal(2u, At(1 * MiB));      // s1
        Assert.Equal(3u, At(2 * MiB));      // s2
        Assert.Equal(1u, At(3 * MiB));      // base again
        Assert.Equal(0u, At(5 * MiB));      // nobody
        Assert.Equal(1u, At(8 * MiB));
        Assert.Equal(3u, At(20 * MiB));
        Assert.Equal(0u, At(30 * MiB));

        var allocation = CheckResult("nbdinfo", "--map", server.Uri).Stdout;
        Assert.Equal(0u, StatusAt(allocation, 0));
        Assert.Equal(3u, StatusAt(allocation, 5 * MiB)); // hole, zero
    }

    private static uint StatusAt(string map, long offset)
    {
        foreach (var line in map.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long start = long.Parse(f[0]), length = long.Parse(f[1]);
            if (offset >= start && offset < start + length) return uint.Parse(f[2]);
        }
        throw new Xunit.Sdk.XunitException($"offset {offset} not covered by the map:\n{map}");
    }
}
