using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// `changed A --from-file B` on a real qemu linked-clone tree (base; a and b made on it and written
/// differently; a2 on a): every byte where qemu's readings of the two generations differ must lie
/// in the reported areas, and the areas must stay within what the two branches wrote since the
/// base, rounded to 64 KiB grains (format doc §7.3 across branches).
/// </summary>
public sealed class ChangedAcrossTests : IDisposable
{
    private readonly TempDirectory _dir = new("esxi-changed");
    private const long Grain = 64 << 10;

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes per link: (offset, length, zero?).</summary>
    private static readonly Dictionary<string, (long Offset, long Length, bool Zero)[]> Writes = new()
    {
        ["a"] = [(1 << 20, 100 << 10, false), ((5 << 20) + 512, 4096, false), (9 << 20, 64 << 10, true)],
        ["b"] = [(1 << 20, 4096, false), (3 << 20, 200 << 10, false), ((12 << 20) + 1000, 3000, false), (14 << 20, 128 << 10, true)],
        ["a2"] = [(7 << 20, 8192, false), ((3 << 20) + 4096, 4096, false)],
    };

    private string Build()
    {
        string d = _dir.Path;
        Qemu.Img(d, "create", "-q", "-f", "vmdk", "base.vmdk", "16M");
        Qemu.Io(d, "base.vmdk", ["write -P 17 0 16M", "write -z 8M 1M"]);
        foreach (var (child, parent) in new[] { ("a", "base"), ("b", "base"), ("a2", "a") })
        {
            Qemu.Img(d, "create", "-q", "-f", "vmdk", "-b", $"{parent}.vmdk", "-F", "vmdk", $"{child}.vmdk");
            int pattern = 30 + child.Length * 7 + child[0];
            Qemu.Io(d, $"{child}.vmdk", Writes[child].Select(w => w.Zero ? $"write -z {w.Offset} {w.Length}" : $"write -P {pattern++ % 250} {w.Offset} {w.Length}"));
        }
        return d;
    }

    private byte[] QemuRaw(string name)
    {
        string raw = _dir.File(name + ".raw");
        Qemu.ConvertToRaw(_dir.File(name + ".vmdk"), raw);
        return File.ReadAllBytes(raw);
    }

    private static List<(long Offset, long Length)> Areas(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("areas").EnumerateArray()
            .Select(a => (a.GetProperty("offset").GetInt64(), a.GetProperty("sizeBytes").GetInt64())).ToList();
    }

    private static bool Covered(List<(long Offset, long Length)> areas, long at) => areas.Any(a => at >= a.Offset && at < a.Offset + a.Length);

    [QemuFact]
    public void Changed_across_two_branches_covers_every_differing_byte_and_only_what_they_wrote()
    {
        Build();
        var areas = Areas(MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--from-file", _dir.File("b.vmdk"), "--json"));
        byte[] a2 = QemuRaw("a2"), b = QemuRaw("b");
        Assert.Equal(a2.Length, b.Length);
        int differing = 0;
        for (long s = 0; s < a2.Length; s += 512)
        {
            if (a2.AsSpan((int)s, 512).SequenceEqual(b.AsSpan((int)s, 512))) continue;
            differing++;
            Assert.True(Covered(areas, s), $"sector at byte {s} differs between a2 and b but is not in the changed areas");
        }
        Assert.True(differing > 0);
        // Superset, but a tight one: every area lies in grains one of the three links wrote.
        var written = Writes.Values.SelectMany(w => w).Select(w => (Start: w.Offset / Grain * Grain, End: (w.Offset + w.Length + Grain - 1) / Grain * Grain)).ToList();
        foreach (var (offset, length) in areas)
            for (long at = offset; at < offset + length; at += 512)
                Assert.True(written.Any(w => at >= w.Start && at < w.End), $"area byte {at} lies in no grain a, a2 or b wrote");

        using (var doc = JsonDocument.Parse(MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--from-file", _dir.File("b.vmdk"), "--json").Stdout))
        {
            Assert.Equal(0, doc.RootElement.GetProperty("ancestor").GetInt32());
            Assert.Equal(_dir.File("base.vmdk"), doc.RootElement.GetProperty("ancestorFile").GetString());
        }
    }

    [QemuFact]
    public void On_one_branch_from_file_equals_from_and_generations_pick_either_side()
    {
        Build();
        var viaFile = Areas(MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--from-file", _dir.File("a.vmdk"), "--json"));
        var viaGen = Areas(MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--from", "1", "--json"));
        Assert.Equal(viaGen, viaFile);
        Assert.NotEmpty(viaFile);

        // Generation 1 of a2's chain (= a) against b's top: only a's and b's writes.
        var aVsB = Areas(MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--to", "1", "--from-file", _dir.File("b.vmdk"), "--json"));
        var direct = Areas(MountChainCli.Run("changed", _dir.File("a.vmdk"), "--from-file", _dir.File("b.vmdk"), "--json"));
        Assert.Equal(direct, aVsB);
        Assert.DoesNotContain(aVsB, r => r.Offset <= 7 << 20 && r.Offset + r.Length > 7 << 20); // a2's write is not there

        Assert.Empty(Areas(MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--from-file", _dir.File("a2.vmdk"), "--json")));
    }

    [QemuFact]
    public void Generations_without_a_common_base_are_refused_in_one_line()
    {
        Build();
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "stranger.vmdk", "16M");
        var r = MountChainCli.Run("changed", _dir.File("a2.vmdk"), "--from-file", _dir.File("stranger.vmdk"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no common ancestor", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        var usage = MountChainCli.Run("changed", _dir.File("a2.vmdk"));
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("--from", usage.Stderr);
    }
}
