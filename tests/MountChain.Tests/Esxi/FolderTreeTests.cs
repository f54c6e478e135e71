using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// `mountchain tree DIR`: a folder with two branches of a qemu base (one two deep), a link whose
/// parent was modified afterwards (CID-broken edge), a link whose parent was deleted, an orphan
/// COWD delta, and an ESXi VMFS base with a SESparse child; every one must appear where it belongs.
/// </summary>
public sealed class FolderTreeTests : IDisposable
{
    private readonly TempDirectory _dir = new("esxi-tree");

    public void Dispose() => _dir.Dispose();

    private void Qio(string image, params string[] commands) => Qemu.Io(_dir.Path, image, commands);

    private string Folder()
    {
        string d = _dir.Dir("vm");
        Qemu.Img(d, "create", "-q", "-f", "vmdk", "base.vmdk", "16M");
        Qemu.Io(d, "base.vmdk", ["write -P 1 0 16M"]);
        foreach (var (child, parent) in new[] { ("a", "base"), ("b", "base"), ("a2", "a") })
            Qemu.Img(d, "create", "-q", "-f", "vmdk", "-b", $"{parent}.vmdk", "-F", "vmdk", $"{child}.vmdk");
        Qemu.Io(d, "a.vmdk", ["write -P 2 1M 64k"]);
        Qemu.Io(d, "b.vmdk", ["write -P 3 2M 64k"]);
        // other = a copy of base; d made on it; then other is written: d's parentCID no longer matches.
        File.Copy(Path.Combine(d, "base.vmdk"), Path.Combine(d, "other.vmdk"));
        Qemu.Img(d, "create", "-q", "-f", "vmdk", "-b", "other.vmdk", "-F", "vmdk", "d.vmdk");
        Qemu.Io(d, "other.vmdk", ["write -P 9 0 4k"]);
        // f's parent is deleted.
        Qemu.Img(d, "create", "-q", "-f", "vmdk", "tmp.vmdk", "16M");
        Qemu.Img(d, "create", "-q", "-f", "vmdk", "-b", "tmp.vmdk", "-F", "vmdk", "f.vmdk");
        File.Delete(Path.Combine(d, "tmp.vmdk"));
        // An orphan COWD delta (its descriptor is gone) and an ESXi pair whose CID cannot be checked.
        var cowd = new CowdDeltaBuilder { CapacitySectors = 2048 };
        cowd.Grains[3] = EsxiImageBuilder.Pattern(512, 4);
        cowd.WriteTo(Path.Combine(d, "old-000009-delta.vmdk"));
        EsxiImageBuilder.WriteVmfsBase(d, "esx", EsxiImageBuilder.Pattern(4 << 20, 5), 0xFFFFFFFE);
        var se = new SeSparseDeltaBuilder { CapacitySectors = 8192 };
        se.Grains[1] = EsxiImageBuilder.Pattern(4096, 6);
        se.WriteLink(d, "esx-000001", 0xFFFFFFFE, 0xFFFFFFFE, "esx.vmdk");
        return d;
    }

    private static JsonElement Node(JsonElement nodes, string name) =>
        nodes.EnumerateArray().Single(n => Path.GetFileName(n.GetProperty("file").GetString()) == name);

    private static string[] Names(JsonElement nodes) =>
        nodes.EnumerateArray().Select(n => Path.GetFileName(n.GetProperty("file").GetString()!)).Order(StringComparer.Ordinal).ToArray();

    [QemuFact]
    public void Tree_shows_branches_broken_edges_missing_parents_and_orphans()
    {
        string d = Folder();
        var r = MountChainCli.Run("tree", d, "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var roots = doc.RootElement.GetProperty("roots");
        Assert.Equal(["base.vmdk", "esx.vmdk", "f.vmdk", "other.vmdk"], Names(roots));

        var baseNode = Node(roots, "base.vmdk");
        Assert.Equal("base", baseNode.GetProperty("edge").GetString());
        Assert.Equal(["a.vmdk", "b.vmdk"], Names(baseNode.GetProperty("children")));
        var a = Node(baseNode.GetProperty("children"), "a.vmdk");
        Assert.Equal("ok", a.GetProperty("edge").GetString());
        Assert.Equal(["a2.vmdk"], Names(a.GetProperty("children")));

        var dNode = Node(Node(roots, "other.vmdk").GetProperty("children"), "d.vmdk");
        Assert.Equal("cidMismatch", dNode.GetProperty("edge").GetString());
        Assert.Contains("does not match CID", dNode.GetProperty("problem").GetString());

        var f = Node(roots, "f.vmdk");
        Assert.Equal("parentMissing", f.GetProperty("edge").GetString());
        Assert.Contains("tmp.vmdk", f.GetProperty("problem").GetString());

        var esx1 = Node(Node(roots, "esx.vmdk").GetProperty("children"), "esx-000001.vmdk");
        Assert.Equal("cidUnchecked", esx1.GetProperty("edge").GetString());
        Assert.Equal(["SeSparse"], esx1.GetProperty("extents").EnumerateArray().Select(e => e.GetString()!).ToArray());

        // Extent files their descriptors name are not orphans; the COWD delta nobody names is.
        Assert.Equal(["old-000009-delta.vmdk"], Names(doc.RootElement.GetProperty("orphans")));
        Assert.Equal(9, doc.RootElement.GetProperty("links").GetInt32());

        var text = MountChainCli.Run("tree", d);
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("│   └── a2.vmdk", text.Stdout);
        Assert.Contains("d.vmdk  [monolithicSparse", text.Stdout);
        Assert.Contains("BROKEN: parentCID", text.Stdout);
        Assert.Contains("BROKEN: parent 'tmp.vmdk' not found", text.Stdout);
        Assert.Contains("orphan: old-000009-delta.vmdk: vmfsSparse (COWD) delta", text.Stdout);
    }

    [QemuFact]
    public void A_linked_clone_in_another_folder_hangs_below_its_base_there_and_a_loop_is_reported()
    {
        string d = _dir.Dir("vm");
        string clones = _dir.Dir("clones");
        Qemu.Img(d, "create", "-q", "-f", "vmdk", "base.vmdk", "4M");
        Qemu.Img(clones, "create", "-q", "-f", "vmdk", "-b", "../vm/base.vmdk", "-F", "vmdk", "clone1.vmdk");
        var r = MountChainCli.Run("tree", clones, "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement.GetProperty("roots").EnumerateArray().Single();
        Assert.Equal(Path.Combine(d, "base.vmdk"), root.GetProperty("file").GetString());
        Assert.True(root.GetProperty("outsideFolder").GetBoolean());
        Assert.Equal("clone1.vmdk", Path.GetFileName(root.GetProperty("children")[0].GetProperty("file").GetString()));

        // Two descriptors naming each other: no base is reached; both are listed, nothing hangs.
        string loop = _dir.Dir("loop");
        File.WriteAllText(Path.Combine(loop, "x.vmdk"), EsxiImageBuilder.Descriptor("vmfs", 1, 2, "y.vmdk", 2048, "VMFS", "x-flat.vmdk"));
        File.WriteAllText(Path.Combine(loop, "y.vmdk"), EsxiImageBuilder.Descriptor("vmfs", 2, 1, "x.vmdk", 2048, "VMFS", "y-flat.vmdk"));
        var l = MountChainCli.Run("tree", loop);
        Assert.True(l.ExitCode == 0, l.All);
        Assert.Contains("cycle: x.vmdk", l.Stdout);
        Assert.Contains("cycle: y.vmdk", l.Stdout);
    }

    [Fact]
    public void Tree_of_a_missing_folder_is_a_one_line_error()
    {
        var r = MountChainCli.Run("tree", _dir.File("nope"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("nope: no such folder", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_hostile_folder_gives_one_line_reasons_and_never_blocks()
    {
        string d = _dir.Dir("hostile");
        Assert.Equal(0, ProcessRunner.Run("mkfifo", [Path.Combine(d, "fifo.vmdk")]).ExitCode); // opening it would block
        Directory.CreateDirectory(Path.Combine(d, "folder.vmdk"));
        File.WriteAllText(Path.Combine(d, "big.vmdk"), "# Disk DescriptorFile\nversion=1\n" + new string('#', 200_000));
        var kdmv = new byte[512];
        "KDMV"u8.CopyTo(kdmv);
        kdmv[4] = 9; // version 9
        File.WriteAllBytes(Path.Combine(d, "kdmv.vmdk"), kdmv);
        File.WriteAllText(Path.Combine(d, "self.vmdk"), EsxiImageBuilder.Descriptor("vmfs", 5, 5, "self.vmdk", 2048, "VMFS", "self-flat.vmdk"));
        var r = MountChainCli.Run(TimeSpan.FromSeconds(60), "tree", d, "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var unreadable = doc.RootElement.GetProperty("unreadable");
        Assert.Equal(["big.vmdk", "kdmv.vmdk"], Names(unreadable));
        Assert.Contains("limit", Node(unreadable, "big.vmdk").GetProperty("reason").GetString());
        Assert.Contains("version 9", Node(unreadable, "kdmv.vmdk").GetProperty("reason").GetString());
        var self = Node(doc.RootElement.GetProperty("roots"), "self.vmdk");
        Assert.Equal("parentMissing", self.GetProperty("edge").GetString());
        Assert.Contains("names the link itself", self.GetProperty("problem").GetString());
        Assert.Empty(doc.RootElement.GetProperty("orphans").EnumerateArray());

        var check = MountChainCli.Run(TimeSpan.FromSeconds(60), "check", Path.Combine(d, "self.vmdk"));
        Assert.Equal(1, check.ExitCode);
        Assert.Contains("names the link itself", check.Stdout);
    }

    [Fact]
    public void Info_shows_the_disk_database_each_key_from_the_nearest_link()
    {
        string d = _dir.Dir("ddb");
        EsxiImageBuilder.WriteVmfsBase(d, "vm", EsxiImageBuilder.Pattern(1 << 20, 1), 0x11111111);
        var c = new CowdDeltaBuilder { CapacitySectors = 2048 };
        c.Grains[7] = EsxiImageBuilder.Pattern(512, 2);
        string top = c.WriteLink(d, "vm-000001", 0x22222222, 0x11111111, "vm.vmdk");
        var r = MountChainCli.Run("info", top, "--json");
        Assert.True(r.ExitCode == 0, r.All);
        using var doc = JsonDocument.Parse(r.Stdout);
        var ddb = doc.RootElement.GetProperty("diskDatabase");
        Assert.Equal("lsilogic", ddb.GetProperty("adapterType").GetString());   // from the base
        Assert.Equal("14", ddb.GetProperty("virtualHWVersion").GetString());
        Assert.EndsWith("22222222", ddb.GetProperty("longContentID").GetString()); // the child's own
        Assert.Contains("ddb:       adapterType=lsilogic", MountChainCli.Run("info", top).Stdout);
    }
}
