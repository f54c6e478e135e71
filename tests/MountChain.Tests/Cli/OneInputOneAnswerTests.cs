using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// One input, one behaviour across commands (issue 14): info and hash agree on raw images, empty
/// files and directories; info, the diagnostic command, shows a CID-broken chain marked instead of
/// failing; volumes names partition types and GPT partition names.
/// </summary>
public sealed class OneInputOneAnswerTests : IDisposable
{
    private readonly TempDirectory _dir = new("oneanswer");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Info_and_hash_both_read_a_raw_image()
    {
        string image = _dir.RandomImage("disk.img", 3 << 20);
        var info = MountChainCli.Run("info", image);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("raw image", info.Stdout);
        var json = JsonDocument.Parse(MountChainCli.Run("info", image, "--json").StdoutBytes).RootElement;
        Assert.Equal("raw", json.GetProperty("format").GetString());
        Assert.Equal(3 << 20, json.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(0, MountChainCli.Run("hash", image).ExitCode);
    }

    [Fact]
    public void Info_and_hash_refuse_an_empty_file_and_a_directory_alike()
    {
        string empty = _dir.File("empty.vmdk");
        File.WriteAllBytes(empty, []);
        string folder = _dir.Dir("folder");
        foreach (var (input, problem) in new[] { (empty, "file is empty"), (folder, "is a directory") })
        {
            foreach (var command in new[] { "info", "hash", "volumes" })
            {
                var r = MountChainCli.Run(command, input);
                Assert.True(r.ExitCode == 1, $"{command} {input}: exit {r.ExitCode}");
                Assert.Contains(input, r.Stderr);
                Assert.Contains(problem, r.Stderr);
            }
        }
    }

    [QemuFact]
    public void Info_shows_a_chain_with_a_CID_mismatch_marked_and_names_ignore_cid()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "base.vmdk", "4M");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "c1.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", "c1.vmdk", "-F", "vmdk", "c2.vmdk");
        SparseFileEditor.EditEmbeddedDescriptor(_dir.File("base.vmdk"), t => System.Text.RegularExpressions.Regex.Replace(t, "\nCID=[0-9a-f]+", "\nCID=0abc0def"));

        var text = MountChainCli.Run("info", _dir.File("c2.vmdk"));
        Assert.Equal(1, text.ExitCode);
        Assert.Contains("generation 2:", text.Stdout);
        Assert.Contains("CID mismatch", text.Stdout);
        Assert.Contains("--ignore-cid", text.Stderr);

        var json = JsonDocument.Parse(MountChainCli.Run("info", _dir.File("c2.vmdk"), "--json").StdoutBytes).RootElement;
        Assert.Equal("cid-mismatch", json.GetProperty("validation").GetString());
        var links = json.GetProperty("links").EnumerateArray().ToList();
        Assert.Equal(3, links.Count);
        Assert.StartsWith("CID mismatch", links[1].GetProperty("validation").GetString());
        Assert.Equal("ok", links[2].GetProperty("validation").GetString());

        Assert.Equal(0, MountChainCli.Run("info", "--ignore-cid", _dir.File("c2.vmdk")).ExitCode);
    }

    [FileSystemToolsFact("sfdisk")]
    public void Volumes_names_partition_types_and_GPT_partition_names()
    {
        string disk = _dir.File("gpt.img");
        ProcessRunner.Bash($"truncate -s 64M {disk} && printf 'label: gpt\\n"
            + "size=8MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI boot\"\\n"
            + "size=8MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=rootfs\\n"
            + "size=8MiB, type=E6D6D379-F507-44C2-A23C-238F2A3DF928\\n"
            + $"size=8MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=data\\n' | sfdisk -q {disk}");
        var r = MountChainCli.Run("volumes", disk);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("EFI System", lines[1]);
        Assert.Contains("EFI boot", lines[1]);
        Assert.Contains("Linux filesystem", lines[2]);
        Assert.Contains("rootfs", lines[2]);
        Assert.Contains("Linux LVM", lines[3]);
        Assert.Contains("Microsoft basic data", lines[4]);
        Assert.Contains("data", lines[4]);

        var json = JsonDocument.Parse(MountChainCli.Run("volumes", disk, "--json").StdoutBytes).RootElement;
        var first = json.GetProperty("volumes")[0];
        Assert.Equal("EFI System", first.GetProperty("typeName").GetString());
        Assert.Equal("EFI boot", first.GetProperty("partitionLabel").GetString());
    }
}
