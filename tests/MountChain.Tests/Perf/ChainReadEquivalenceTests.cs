using MountChain.Core.Chain;

namespace MountChain.Tests.Perf;

/// <summary>
/// The optimised mapping (runs of equal grain-table entries taken in one step, pooled table reads)
/// must read exactly what qemu reads: every generation of a real chain with zeroed grains, partial
/// grains, writes across a grain-table boundary and untouched tables, compared byte for byte with
/// `qemu-img convert -O raw`.
/// </summary>
public sealed class ChainReadEquivalenceTests : IDisposable
{
    private const long Size = 96L << 20; // three grain tables of 32 MiB
    private readonly TempDirectory _temp = new("mountchain-perf");
    private string _dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private static void Run(string tool, string arguments, string? stdin = null)
    {
        var r = ProcessRunner.RunCommandLine(tool, arguments, stdin: stdin);
        Assert.True(r.ExitCode == 0 && !r.All.Contains("error", StringComparison.OrdinalIgnoreCase), $"{tool} {arguments}: {r.All}");
    }

    private string BuildChain()
    {
        string Q(string name) => Path.Combine(_dir, name);
        Run("qemu-img", $"create -q -f vmdk -o subformat=monolithicSparse,zeroed_grain=on {Q("base.vmdk")} {Size}");
        // Base: a contiguous 3 MiB stretch, partial grains, a zeroed grain, the last grain.
        Run("qemu-io", $"-f vmdk {Q("base.vmdk")}",
            "write -q -P 17 0 3M\nwrite -q -P 18 5M 4k\nwrite -q -P 19 6291968 1536\nwrite -q -z 1M 64k\n" +
            $"write -q -P 20 {Size - 65536} 64k\nwrite -q -P 21 40M 8M\n");
        Run("qemu-img", $"create -q -f vmdk -o subformat=monolithicSparse,zeroed_grain=on -b base.vmdk -F vmdk {Q("c1.vmdk")}");
        // Child: over the base's data, across the 32 MiB table boundary, zeroed grains over data,
        // grains whose file order differs from their disk order.
        Run("qemu-io", $"-f vmdk {Q("c1.vmdk")}",
            "write -q -P 33 2M 2M\nwrite -q -P 34 31M 2M\nwrite -q -z 40M 128k\nwrite -q -P 35 41M 4096\nwrite -q -P 36 70M 512\n" +
            // Neighbouring grains allocated in reverse order: adjacent in the disk, not in the file.
            "write -q -P 37 81984k 64k\nwrite -q -P 38 81920k 64k\nwrite -q -P 39 82048k 64k\n");
        Run("qemu-img", $"create -q -f vmdk -o subformat=monolithicSparse -b c1.vmdk -F vmdk {Q("c2.vmdk")}");
        Run("qemu-io", $"-f vmdk {Q("c2.vmdk")}", "write -q -P 49 0 64k\nwrite -q -P 50 32M 64k\nwrite -q -P 51 44M 12k\n");
        return Q("c2.vmdk");
    }

    [Fact]
    public void Every_generation_reads_like_qemu_img_convert()
    {
        string top = BuildChain();
        using var chain = VmdkChain.Open(top);
        Assert.Equal(3, chain.Links.Count);
        var ours = new byte[Size];
        for (int g = 0; g <= chain.TopGeneration; g++)
        {
            string raw = Path.Combine(_dir, $"g{g}.raw");
            Run("qemu-img", $"convert -O raw {chain.Links[g].Path} {raw}");
            var expected = File.ReadAllBytes(raw);
            using var device = chain.OpenGeneration(g);
            // Odd-sized reads at odd sector offsets cross run, grain and table boundaries.
            for (long pos = 0; pos < Size;)
            {
                int n = (int)Math.Min(Size - pos, 3 * 65536 + 1536);
                device.Read(ours.AsSpan((int)pos, n), pos);
                pos += n;
            }
            Assert.True(expected.AsSpan().SequenceEqual(ours), $"generation {g} differs from qemu-img convert");
            File.Delete(raw);
        }
    }
}
