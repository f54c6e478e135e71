using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// Absolute ESXi and Windows parent hints (format doc §1.7) on a VM folder copied off a datastore:
/// resolved by `--map-path FROM=TO`, or by the "&lt;child dir&gt;/../&lt;vm folder&gt;/&lt;file&gt;" rule.
/// </summary>
public sealed class ParentHintTests : IDisposable
{
    private readonly TempDirectory _dir = new("hints");
    private const long Capacity = 4L << 11;

    public void Dispose() => _dir.Dispose();

    /// <summary>Base in <paramref name="baseFolder"/>, a SESparse child in <paramref name="childFolder"/> whose hint is <paramref name="hint"/>.</summary>
    private string Chain(string baseFolder, string childFolder, string hint)
    {
        string b = Directory.CreateDirectory(_dir.File(baseFolder)).FullName;
        string c = Directory.CreateDirectory(_dir.File(childFolder)).FullName;
        EsxiImageBuilder.WriteVmfsBase(b, "vm", EsxiImageBuilder.Pattern((int)Capacity * 512, 4), 0xAAAA0001);
        return EsxiChainTests.SeSparse(5, Capacity).WriteLink(c, "vm-000001", 0xAAAA0002, 0xAAAA0001, hint);
    }

    [Fact]
    public void An_absolute_vmfs_volumes_hint_is_remapped_by_map_path_on_every_chain_command()
    {
        const string datastoreFolder = "/vmfs/volumes/5f1e0a2b-7c1d9e40-3a5b-0050569f0001/web01";
        string child = Chain("copied/base", "copied/snapshots", datastoreFolder + "/vm.vmdk");

        var without = MountChainCli.Run("info", child);
        Assert.Equal(1, without.ExitCode);
        Assert.Contains("vm-000001.vmdk", without.Stderr);
        Assert.Contains("not found", without.Stderr);

        string map = $"{datastoreFolder}={_dir.File("copied/base")}";
        var info = MountChainCli.Run("info", child, "--map-path", "/vmfs/volumes/other=/nowhere", "--map-path", map);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("links:     2", info.Stdout);
        foreach (var command in new[] { "hash", "map", "volumes" })
        {
            var r = MountChainCli.Run(command, child, "-g", "1", "--map-path", map);
            Assert.True(r.ExitCode is 0 or 1 && !r.Stderr.Contains("not found"), $"{command}: {r.Stderr}");
        }
        var hash = MountChainCli.Run("hash", child, "--map-path", map);
        Assert.True(hash.ExitCode == 0, hash.Stderr);
    }

    [Fact]
    public void A_Windows_drive_hint_finds_the_parent_in_the_sibling_folder_of_the_same_name()
    {
        string child = Chain("My VM", "snapshots", @"C:\Users\me\Documents\Virtual Machines\My VM\vm.vmdk");
        var info = MountChainCli.Run("info", child);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("links:     2", info.Stdout);
    }

    [Fact]
    public void A_UNC_hint_is_remapped_case_insensitively_with_backslashes_in_the_mapping()
    {
        string child = Chain("restore/disk0", "restore/delta", @"\\filer01\VMs\web01\vm.vmdk");
        var r = MountChainCli.Run("hash", child, "--map-path", $@"\\FILER01\vms\WEB01={_dir.File("restore/disk0")}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var bad = MountChainCli.Run("hash", child, "--map-path", "no-equals-sign");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("FROM=TO", bad.Stderr);
    }
}
