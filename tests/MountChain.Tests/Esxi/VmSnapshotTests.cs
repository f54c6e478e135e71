using System.Security.Cryptography;
using System.Text;
using MountChain.Core.Errors;
using MountChain.Core.VmConfig;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>.vmx/.vmsd (format doc §8): hand-written files in ESXi's and Workstation's styles, and `-g NAME` end to end.</summary>
public sealed class VmSnapshotTests : IDisposable
{
    private readonly TempDirectory _dir = new("vmsd");
    private const long Capacity = 4L << 11;

    public void Dispose() => _dir.Dispose();

    // ESXi style (after XO's real sample): lower-case keys, signed createTimeLow, diskM entries, snapshot.current.
    private const string EsxiVmsd = """
        .encoding = "UTF-8"
        snapshot.lastUID = "5"
        snapshot.current = "3"
        snapshot0.uid = "1"
        snapshot0.filename = "vm-Snapshot1.vmsn"
        snapshot0.displayName = "base install"
        snapshot0.description = "fresh OS, |22clean|22"
        snapshot0.type = "1"
        snapshot0.createTimeHigh = "376137"
        snapshot0.createTimeLow = "-814770620"
        snapshot0.numDisks = "1"
        snapshot0.disk0.fileName = "vm.vmdk"
        snapshot0.disk0.node = "scsi0:0"
        snapshot1.uid = "2"
        snapshot1.parent = "1"
        snapshot1.displayName = "before upgrade"
        snapshot1.createTimeHigh = "376138"
        snapshot1.createTimeLow = "12345"
        snapshot1.numDisks = "1"
        snapshot1.disk0.fileName = "vm-000001.vmdk"
        snapshot1.disk0.node = "scsi0:0"
        snapshot2.uid = "3"
        snapshot2.parent = "2"
        snapshot2.displayName = "Änderung vor Update – größer"
        snapshot2.numDisks = "1"
        snapshot2.disk0.fileName = "vm-000002.vmdk"
        snapshot2.disk0.node = "scsi0:0"
        snapshot3.uid = "5"
        snapshot3.parent = "1"
        snapshot3.displayName = "other branch"
        snapshot3.numDisks = "1"
        snapshot3.disk0.fileName = "vm-000004.vmdk"
        snapshot3.disk0.node = "scsi0:0"
        snapshot.numSnapshots = "4"
        """;

    // Workstation style: windows-1252, mixed-case keys, Windows paths, needConsolidate.
    private static readonly byte[] WorkstationVmsd = Encoding.Latin1.GetBytes(
        ".encoding = \"windows-1252\"\r\nSnapshot.LastUID = \"2\"\r\nsnapshot.needConsolidate = \"TRUE\"\r\n" +
        "snapshot0.uid = \"1\"\r\nsnapshot0.displayName = \"Caf\u00e9 ready\"\r\nsnapshot0.Description = \"a |7C pipe\"\r\n" +
        "snapshot0.disk0.fileName = \"C:\\Users\\me\\Documents\\Virtual Machines\\Win10\\Win10.vmdk\"\r\nsnapshot0.disk0.node = \"sata0:0\"\r\n" +
        "snapshot0.createTimeHigh = \"0\"\r\nsnapshot0.createTimeLow = \"0\"\r\nsnapshot.current = \"1\"\r\n");

    [Fact]
    public void An_ESXi_style_vmsd_gives_the_tree_names_times_and_disk_files()
    {
        string path = _dir.File("vm.vmsd");
        File.WriteAllText(path, EsxiVmsd);
        var db = SnapshotDatabase.Load(path);
        Assert.Equal(4, db.Snapshots.Count);
        Assert.Equal(3, db.CurrentUid);
        var s1 = db.ByUid(1)!;
        Assert.Null(s1.ParentUid);
        Assert.Equal("fresh OS, \"clean\"", s1.Description);
        long micros = (376137L << 32) + unchecked((uint)-814770620);
        Assert.Equal(micros / 1000, s1.CreateTime!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(2021, s1.CreateTime!.Value.Year);
        Assert.Equal(new[] { 2, 5 }, db.ChildrenOf(1).Select(s => s.Uid));
        Assert.Equal("vm-000002.vmdk", db.Find("Änderung vor Update – größer").Disks.Single().FileName);
        Assert.Equal(2, db.Find("BEFORE UPGRADE").Uid);
        Assert.Equal(5, db.Find("uid:5").Uid);
        Assert.Contains("no snapshot is named 'nope'", Assert.ThrowsAny<VmdkException>(() => db.Find("nope")).Message);
    }

    [Fact]
    public void A_Workstation_style_vmsd_in_windows_1252_parses()
    {
        string path = _dir.File("Win10.vmsd");
        File.WriteAllBytes(path, WorkstationVmsd);
        var db = SnapshotDatabase.Load(path);
        var s = db.Snapshots.Single();
        Assert.Equal("Café ready", s.DisplayName);
        Assert.Equal("a | pipe", s.Description);
        Assert.True(db.NeedConsolidate);
        Assert.Equal("sata0:0", s.Disks.Single().Node);
        Assert.Equal(_dir.File("Win10.vmdk"), VmxFile.ResolveFile(_dir.Path, s.Disks.Single().FileName, null));
    }

    [Theory]
    [InlineData("snapshot0.uid = \"1\"\nsnapshot1.uid = \"1\"\n", "used by another snapshot")]
    [InlineData("snapshot0.uid = \"1\"\nsnapshot0.parent = \"2\"\nsnapshot1.uid = \"2\"\nsnapshot1.parent = \"1\"\n", "own ancestor")]
    [InlineData("snapshot0.uid = \"x\"\n", "snapshot0.uid 'x' is not a number")]
    [InlineData("snapshot0.uid = \"1\"\nsnapshot0.parent = \"9\"\n", "parent uid 9")]
    [InlineData("snapshot.current = \"4\"\n", "snapshot.current is 4")]
    [InlineData("snapshot0.uid = \"1\"\nsnapshot0.createTimeHigh = \"99999999999\"\nsnapshot0.createTimeLow = \"1\"\n", "createTimeHigh")]
    [InlineData("snapshot0.displayName = \"unterminated\n", "unterminated")]
    [InlineData("garbage line\n", "line 1")]
    public void A_hostile_vmsd_is_refused_naming_file_and_field(string text, string expected)
    {
        string path = _dir.File("bad.vmsd");
        File.WriteAllText(path, text);
        var e = Assert.ThrowsAny<VmdkException>(() => SnapshotDatabase.Load(path));
        Assert.Contains("bad.vmsd", e.Message);
        Assert.Contains(expected, e.Message);
    }

    /// <summary>VMFS base + SESparse deltas as ESXi lays them out: snapshots 1→2→3 and a branch 5 off 1; running on -000003.</summary>
    private Dictionary<string, byte[]> VmFolder()
    {
        var raw = new Dictionary<string, byte[]>();
        raw["vm.vmdk"] = EsxiImageBuilder.Pattern((int)Capacity * 512, 1);
        EsxiImageBuilder.WriteVmfsBase(_dir.Path, "vm", raw["vm.vmdk"], 0x100);
        void Delta(string name, string parent, uint cid, uint parentCid, int seed)
        {
            var b = EsxiChainTests.SeSparse(seed, Capacity);
            b.WriteLink(_dir.Path, name, cid, parentCid, parent + ".vmdk");
            raw[name + ".vmdk"] = b.Apply(raw[parent + ".vmdk"]);
        }
        Delta("vm-000001", "vm", 0x101, 0x100, 2);
        Delta("vm-000002", "vm-000001", 0x102, 0x101, 3);
        Delta("vm-000003", "vm-000002", 0x103, 0x102, 4);
        Delta("vm-000004", "vm", 0x104, 0x100, 5);
        File.WriteAllText(_dir.File("vm.vmsd"), EsxiVmsd);
        File.WriteAllText(_dir.File("vm.vmx"), ".encoding = \"UTF-8\"\ndisplayName = \"web 01\"\nscsi0.present = \"TRUE\"\nscsi0:0.present = \"TRUE\"\n" +
            "scsi0:0.fileName = \"vm-000003.vmdk\"\nscsi0:0.deviceType = \"scsi-hardDisk\"\nsata0:1.fileName = \"/vmfs/volumes/ds1/iso/os.iso\"\nsata0:1.deviceType = \"cdrom-image\"\n");
        return raw;
    }

    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    [Theory]
    [InlineData("before upgrade", "vm-000001.vmdk")]
    [InlineData("Änderung vor Update – größer", "vm-000002.vmdk")]
    [InlineData("uid:1", "vm.vmdk")]
    [InlineData("other branch", "vm-000004.vmdk")]
    [InlineData("2", "vm-000002.vmdk")]
    public void Hash_of_a_vmx_picks_the_generation_a_snapshot_names(string selector, string holder)
    {
        var raw = VmFolder();
        var r = MountChainCli.Run("hash", _dir.File("vm.vmx"), "-g", selector);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith(Sha(raw[holder]), r.Stdout);
    }

    [Fact]
    public void A_snapshot_name_works_on_a_vmdk_of_its_chain_and_a_branch_elsewhere_is_explained()
    {
        var raw = VmFolder();
        var r = MountChainCli.Run("hash", _dir.File("vm-000003.vmdk"), "-g", "before upgrade");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.StartsWith(Sha(raw["vm-000001.vmdk"]), r.Stdout);
        var other = MountChainCli.Run("hash", _dir.File("vm-000003.vmdk"), "-g", "other branch");
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("another branch", other.Stderr);
        Assert.Contains("vm-000004.vmdk", other.Stderr);
    }

    [Fact]
    public void Info_of_a_vmx_shows_the_snapshot_tree_and_labels_each_generation()
    {
        VmFolder();
        var r = MountChainCli.Run("info", _dir.File("vm.vmx"));
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.Contains("vm:        " + _dir.File("vm.vmx") + " (web 01)", r.Stdout);
        Assert.Contains("  uid 1 \"base install\"  created 2021-", r.Stdout);
        Assert.Contains("    uid 2 \"before upgrade\"", r.Stdout);
        Assert.Contains("      uid 3 \"Änderung vor Update – größer\"", r.Stdout);
        Assert.Contains("<- current", r.Stdout);
        Assert.Contains("disk scsi0:0: vm-000003.vmdk", r.Stdout);
        Assert.Contains("generation 1: " + _dir.File("vm-000001.vmdk") + " (seSparse)  <- snapshot uid 2 \"before upgrade\"", r.Stdout);
        Assert.Contains("generation 3: " + _dir.File("vm-000003.vmdk") + " (seSparse)  <- current state", r.Stdout);
        Assert.DoesNotContain("os.iso", r.Stdout);
        var json = MountChainCli.Run("info", _dir.File("vm.vmx"), "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(json.Stdout);
        Assert.Equal(4, doc.RootElement.GetProperty("snapshots").GetArrayLength());
        Assert.Equal(4, doc.RootElement.GetProperty("disks")[0].GetProperty("generations").GetArrayLength());
    }
}
