using System.Security.Cryptography;
using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// `mountchain check` (format doc §10.2): a clean qemu chain exits 0; hand-corrupted files of each
/// subformat (hosted sparse, streamOptimized, COWD, SESparse) list every planted hazard with file,
/// field and offset and exit 1, without changing a byte; `--repair` fixes our own redo log and
/// refuses every other link.
/// </summary>
public sealed class CheckTests : IDisposable
{
    private readonly TempDirectory _dir = new("esxi-check");

    public void Dispose() => _dir.Dispose();

    private sealed record Finding(string File, string Field, long? Offset, string Severity, string Message);

    private static (int ExitCode, List<Finding> Findings) Check(params string[] args)
    {
        var r = MountChainCli.Run(["check", .. args, "--json"]);
        Assert.True(r.ExitCode is 0 or 1, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var findings = doc.RootElement.GetProperty("links").EnumerateArray().SelectMany(l => l.GetProperty("findings").EnumerateArray())
            .Select(f => new Finding(f.GetProperty("file").GetString()!, f.GetProperty("field").GetString()!,
                f.TryGetProperty("offset", out var o) ? o.GetInt64() : null, f.GetProperty("severity").GetString()!, f.GetProperty("message").GetString()!))
            .ToList();
        Assert.Equal(r.ExitCode == 0, doc.RootElement.GetProperty("clean").GetBoolean());
        return (r.ExitCode, findings);
    }

    private Dictionary<string, string> Hashes() =>
        Directory.GetFiles(_dir.Path).ToDictionary(f => f, f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>qemu base (16 MiB) and a child written in two grain tables (0 and 1).</summary>
    private string QemuChain()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "base.vmdk", "64M");
        Qemu.Io(_dir.Path, "base.vmdk", ["write -P 1 0 4M"]);
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-o", "zeroed_grain=on", "-b", "base.vmdk", "-F", "vmdk", "child.vmdk");
        Qemu.Io(_dir.Path, "child.vmdk", ["write -P 2 0 256k", "write -P 3 33M 128k", "write -z 40M 64k"]);
        return _dir.File("child.vmdk");
    }

    private static long GdOffset(string f) => (long)SparseFileEditor.ReadU64(f, SparseFileEditor.GdOffsetOffset) * 512;
    private static long RgdOffset(string f) => (long)SparseFileEditor.ReadU64(f, SparseFileEditor.RgdOffsetOffset) * 512;
    private static long Table(string f, long gd, int t) => SparseFileEditor.ReadU32(f, gd + t * 4) * 512L;

    [QemuFact]
    public void A_clean_qemu_chain_is_clean_and_exits_0()
    {
        string child = QemuChain();
        var (code, findings) = Check(child);
        Assert.Equal(0, code);
        Assert.DoesNotContain(findings, f => f.Severity == "problem");
        var text = MountChainCli.Run("check", child);
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("clean: 2 link(s), no problems", text.Stdout);
    }

    [QemuFact]
    public void Every_hazard_planted_in_a_hosted_sparse_child_is_listed_with_its_offset()
    {
        string child = QemuChain();
        long gd = GdOffset(child), gt0 = Table(child, gd, 0), gt1 = Table(child, gd, 1);
        long rgt0 = Table(child, RgdOffset(child), 0);
        uint grain0 = SparseFileEditor.ReadU32(child, gt1 + 16 * 4); // table 1 entry 16 = 33M
        SparseFileEditor.WriteU32(child, gt0 + 1 * 4, 0x7FFFFFF0);   // past EOF
        SparseFileEditor.WriteU32(child, gt0 + 2 * 4, 2);            // inside the metadata
        SparseFileEditor.WriteU32(child, gt0 + 3 * 4, grain0);       // shares a grain with table 1
        SparseFileEditor.WriteU32(child, rgt0 + 0 * 4, 0);           // redundant copy disagrees
        var before = Hashes();
        var (code, findings) = Check(child);
        Assert.Equal(1, code);
        Assert.Equal(before, Hashes());
        Assert.Contains(findings, f => f.Field == "grain table 0 entry 1" && f.Offset == gt0 + 4 && f.Message.Contains("past the end"));
        Assert.Contains(findings, f => f.Field == "grain table 0 entry 2" && f.Offset == gt0 + 8 && f.Message.Contains("inside the metadata"));
        Assert.Contains(findings, f => f.Field.StartsWith("grain ", StringComparison.Ordinal) && f.Offset == grain0 * 512L && f.Message.Contains("share file space"));
        Assert.Contains(findings, f => f.Field == "grain table 0 entry 0" && f.Message.Contains("redundant copy says 0"));
        Assert.All(findings, f => Assert.Equal(child, f.File));
    }

    [QemuFact]
    public void A_stream_grain_entry_pointing_at_another_grains_marker_is_found()
    {
        string raw = _dir.RandomImage("src.raw", 1 << 20);
        string stream = _dir.File("s.vmdk");
        Qemu.Img(_dir.Path, "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, stream);
        Assert.Equal(0, Check(stream).ExitCode);
        long gt0 = Table(stream, GdOffset(stream), 0);
        uint first = SparseFileEditor.ReadU32(stream, gt0);
        SparseFileEditor.WriteU32(stream, gt0 + 5 * 4, first); // grain 5 → grain 0's marker
        var (code, findings) = Check(stream);
        Assert.Equal(1, code);
        Assert.Contains(findings, f => f.Field == "grain marker of grain 5" && f.Offset == first * 512L && f.Message.Contains("is for LBA 0, expected 640"));
        Assert.Contains(findings, f => f.Message.Contains("share file space"));
    }

    [QemuFact]
    public void A_CID_break_is_a_problem_and_an_unchecked_CID_a_warning()
    {
        string child = QemuChain();
        Qemu.Io(_dir.Path, "base.vmdk", ["write -P 9 0 4k"]);
        var (code, findings) = Check(child);
        Assert.Equal(1, code);
        Assert.Contains(findings, f => f.Field == "parentCID" && f.Severity == "problem" && f.Message.Contains("does not match CID"));
        // The base is still checked: the walk goes on through a broken edge.
        Assert.Contains("base.vmdk", MountChainCli.Run("check", child).Stdout);

        string esx = _dir.Dir("esx");
        EsxiImageBuilder.WriteVmfsBase(esx, "vm", EsxiImageBuilder.Pattern(1 << 20, 1), 0xFFFFFFFE);
        var c = new CowdDeltaBuilder { CapacitySectors = 2048 };
        c.Grains[7] = EsxiImageBuilder.Pattern(512, 2);
        string top = c.WriteLink(esx, "vm-000001", 0xFFFFFFFE, 0xFFFFFFFE, "vm.vmdk");
        var esxi = Check(top);
        Assert.Equal(0, esxi.ExitCode);
        Assert.Contains(esxi.Findings, f => f.Field == "CID" && f.Severity == "warning");
    }

    [Fact]
    public void Every_bad_entry_of_a_COWD_delta_is_listed()
    {
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", EsxiImageBuilder.Pattern(12 << 20, 1), 0x11111111);
        var b = EsxiChainTests.Cowd(2);
        string top = b.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        string delta = _dir.File("vm-000001-delta.vmdk");
        var layout = b.WriteTo(delta);
        Assert.Equal(0, Check(top).ExitCode);
        long gt0 = layout.GtSectors[0] * 512;
        EsxiImageBuilder.PatchU32(delta, gt0 + 100 * 4, 0x7FFFFFFF);                            // past EOF
        EsxiImageBuilder.PatchU32(delta, gt0 + 110 * 4, (uint)layout.GrainSectorOf[120]);       // two grains, one sector
        EsxiImageBuilder.PatchU32(delta, gt0 + 111 * 4, (uint)layout.GtSectors[0] + 1);         // onto a grain table
        var before = Hashes();
        var (code, findings) = Check(top);
        Assert.Equal(1, code);
        Assert.Equal(before, Hashes());
        Assert.Contains(findings, f => f.File == delta && f.Field == "grain table 0 entry 100" && f.Offset == gt0 + 400 && f.Message.Contains("past the end"));
        Assert.Contains(findings, f => f.File == delta && f.Field == "grain table 0 entry 111" && f.Message.Contains("inside the grain table"));
        Assert.Contains(findings, f => f.File == delta && f.Offset == layout.GrainSectorOf[120] * 512 && f.Message.Contains("share file space"));
    }

    [Fact]
    public void Every_bad_entry_of_a_SESparse_delta_is_listed_across_tables()
    {
        const long capacity = 40L << 11;
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", EsxiImageBuilder.Pattern((int)capacity * 512, 1), 0x11111111);
        var b = new SeSparseDeltaBuilder { CapacitySectors = capacity };
        b.Grains[10] = EsxiImageBuilder.Pattern(4096, 2);
        b.Grains[11] = EsxiImageBuilder.Pattern(4096, 3);
        b.Grains[4096 + 5] = EsxiImageBuilder.Pattern(4096, 4);
        string top = b.WriteLink(_dir.Path, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        string delta = _dir.File("vm-000001-sesparse.vmdk");
        var layout = b.WriteTo(delta);
        Assert.Equal(0, Check(top).ExitCode);
        long gt0 = (layout.GtPoolSector + layout.GtPoolIndex[0] * 64) * 512;
        long gt1 = (layout.GtPoolSector + layout.GtPoolIndex[1] * 64) * 512;
        EsxiImageBuilder.PatchU64(delta, gt0 + 11 * 8, 0x5000000000000000);                                   // type 5
        EsxiImageBuilder.PatchU64(delta, gt1 + 5 * 8, SeSparseDeltaBuilder.AllocatedEntry(layout.ClusterOf[10])); // same cluster as grain 10, other table
        var (code, findings) = Check(top);
        Assert.Equal(1, code);
        Assert.Contains(findings, f => f.File == delta && f.Field == "grain table 0 entry 11" && f.Offset == gt0 + 88 && f.Message.Contains("type 5 is invalid"));
        Assert.Contains(findings, f => f.File == delta && f.Message.Contains("grains 10 and 4101 share file space") || f.Message.Contains("grains 4101 and 10 share file space"));
    }

    [QemuFact]
    public void Repair_fixes_our_redo_log_and_refuses_any_other_link()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "base.vmdk", "8M");
        Qemu.Io(_dir.Path, "base.vmdk", ["write -P 1 0 8M"]);
        string log = _dir.File("log.vmdk");
        Assert.Equal(0, MountChainCli.Run("create-child", _dir.File("base.vmdk"), log).ExitCode);
        string patch = _dir.RandomImage("patch.bin", 200 << 10);
        Assert.Equal(0, MountChainCli.Run("write", log, "--offset", "1M", "--input", patch).ExitCode);
        string good = MountChainCli.Run("hash", log).Stdout.Split(' ')[0];
        long rgt0 = Table(log, RgdOffset(log), 0);
        SparseFileEditor.WriteU32(log, rgt0 + 16 * 4, 0x7FFFFFF0); // the redundant copy of grain 16 is bad
        Assert.Equal(1, Check(log).ExitCode);

        string baseHash = Hashes()[_dir.File("base.vmdk")];
        var repaired = MountChainCli.Run("check", log, "--repair");
        Assert.True(repaired.ExitCode == 0, repaired.All);
        Assert.Contains("repair: ", repaired.Stdout);
        Assert.Equal(0, Check(log).ExitCode);
        Assert.Equal(good, MountChainCli.Run("hash", log).Stdout.Split(' ')[0]);
        Assert.Equal(0, ProcessRunner.Run("qemu-img", ["check", log]).ExitCode);

        // A corrupt base is never written: refused in one line, unchanged.
        long gt0 = Table(_dir.File("base.vmdk"), GdOffset(_dir.File("base.vmdk")), 0);
        SparseFileEditor.WriteU32(_dir.File("base.vmdk"), gt0 + 4, 0x7FFFFFF0);
        var before = Hashes();
        var refused = MountChainCli.Run("check", _dir.File("base.vmdk"), "--repair");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--repair refused", refused.Stderr);
        Assert.Equal(before, Hashes());
        Assert.NotEqual(baseHash, before[_dir.File("base.vmdk")]);
    }
}
