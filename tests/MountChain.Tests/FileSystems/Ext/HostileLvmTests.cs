using System.Text.Json;
using MountChain.Tests.FileSystems.Fat;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>
/// LVM2 metadata made by the lvm2 tools (make-lvm-disk.sh), then rewritten with valid checksums
/// (lvm-mda.py) or damaged: the newest seqno wins whichever PV holds it; a damaged or absurd copy is
/// a warning naming the PV and the field while another PV's copy still serves; with none left the
/// LVs are gone and naming one is a one-line error; a thin LV is listed and refused. The image is
/// never written by mountchain.
/// </summary>
public sealed class HostileLvmTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-lvm-hostile-").FullName;
    private string Disk => Path.Combine(_dir, "disk.raw");
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "FileSystems", "Ext", name);
    public void Dispose() => Directory.Delete(_dir, true);

    private long[] PartitionStarts() =>
        ProcessRunner.Bash($"sfdisk -J {Disk} | python3 -c 'import json,sys; [print(p[\"start\"]*512) for p in json.load(sys.stdin)[\"partitiontable\"][\"partitions\"]]'")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();

    /// <summary>Rewrites the metadata text of the PV in partition <paramref name="partition"/> (1-based) with a regex substitution.</summary>
    private void Rewrite(int partition, string pattern, string replacement) =>
        ProcessRunner.Check("python3", Fixture("lvm-mda.py"), Disk, PartitionStarts()[partition - 1].ToString(), "--sub", pattern, replacement);

    /// <summary>`volumes --json`: name → filesystem (and note), stderr; the image is unchanged.</summary>
    private (Dictionary<string, (string Fs, string Note)> Volumes, string Stderr) Volumes()
    {
        string before = Hashing.Sha256File(Disk);
        var r = MountChainCli.Run("volumes", Disk, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(before, Hashing.Sha256File(Disk));
        var volumes = JsonDocument.Parse(r.StdoutBytes).RootElement.GetProperty("volumes").EnumerateArray().ToDictionary(
            v => v.GetProperty("name").GetString()!,
            v => (v.GetProperty("filesystem").GetString()!, v.TryGetProperty("note", out var n) ? n.GetString()! : ""));
        return (volumes, r.Stderr);
    }

    private void Make() => ProcessRunner.Bash($"bash {Fixture("make-lvm-disk.sh")} {Disk} 2>/dev/null");

    [FileSystemToolsFact("pvcreate", "vgcfgrestore", "sfdisk", "python3", NeedsRootAndFuse = true)]
    public void The_newest_seqno_wins_and_a_damaged_copy_is_a_warning()
    {
        Make();
        // p3 alone gets a newer VG (seqno + 1) in which swap is renamed: p2's older copy must lose, although it is read first.
        Rewrite(3, @"seqno = (\d+)", "seqno = 99");
        Rewrite(3, @"\nswap \{", "\nswapnew {");
        var (volumes, _) = Volumes();
        Assert.Contains("p3/vg0-swapnew", volumes.Keys);
        Assert.DoesNotContain("p3/vg0-swap", volumes.Keys);
        // A damaged mda header on p3: its copy is left out with a warning, p2's (older) copy serves.
        long mda = PartitionStarts()[2] + 4096;
        ImageBytes.Write(Disk, mda + 8, [(byte)(ImageBytes.Read(Disk, mda + 8, 1)[0] ^ 0xFF)]); // a byte of the magic
        var (after, stderr) = Volumes();
        Assert.Contains("p3/vg0-swap", after.Keys);
        Assert.Contains("mountchain: warning: p3: LVM2 metadata area at 4096: header checksum mismatch", stderr);
    }

    [FileSystemToolsFact("pvcreate", "vgcfgrestore", "sfdisk", "python3", NeedsRootAndFuse = true)]
    public void A_thin_lv_is_listed_and_refused()
    {
        Make();
        foreach (int p in new[] { 2, 3 }) Rewrite(p, @"(\nswap \{[^}]*?)type = ""striped""", @"\1type = ""thin""" + "\nthin_pool = \"pool\"");
        var (volumes, _) = Volumes();
        // A thin LV has no extents of its own: it is listed under the PV its VG metadata came from.
        string name = Assert.Single(volumes.Keys, k => k.EndsWith("/vg0-swap", StringComparison.Ordinal));
        Assert.Equal("lvm-unsupported", volumes[name].Fs);
        Assert.Contains("thin", volumes[name].Note);
        var r = MountChainCli.Run("ls", Disk, name + ":/");
        Assert.Equal(1, r.ExitCode);
        var error = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mountchain: ", error);
        Assert.EndsWith($"{name}: a thin LV cannot be read (thin provisioning is not supported)", error);
    }

    [FileSystemToolsFact("pvcreate", "vgcfgrestore", "sfdisk", "python3", NeedsRootAndFuse = true)]
    public void Absurd_counts_and_nesting_are_warnings_naming_pv_vg_and_lv_then_the_lvs_are_gone()
    {
        Make();
        Rewrite(2, @"(\nroot \{[^}]*?)extent_count = \d+", @"\g<1>extent_count = 1125899906842624");
        var (volumes, stderr) = Volumes();
        Assert.Contains("p2/vg0-root", volumes.Keys); // p3's copy of the same seqno serves
        Assert.Contains("mountchain: warning: p2: VG vg0: LV root segment1: extents 0+1125899906842624 invalid", stderr);

        Rewrite(3, @"^vg0 \{", "vg0 {\n" + string.Concat(Enumerable.Repeat("a {\n", 100)) + string.Concat(Enumerable.Repeat("}\n", 100)));
        (volumes, stderr) = Volumes();
        Assert.DoesNotContain(volumes.Keys, k => k.Contains('/'));
        Assert.Contains("p3: LVM2 metadata text: sections nested too deeply", stderr);
        string before = Hashing.Sha256File(Disk);
        var r = MountChainCli.Run("ls", Disk, "p2/vg0-root:/");
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mountchain: ", line);
        Assert.Contains("volume p2/vg0-root does not exist", line);
        Assert.Contains("extents 0+1125899906842624 invalid", line); // why: the LVM problems are named
        Assert.Equal(before, Hashing.Sha256File(Disk));
    }
}
