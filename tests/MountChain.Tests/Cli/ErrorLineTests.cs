using System.Text.Json;
using MountChain.Tests.FileSystems;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// Every error line names the disk file (and the volume where there is one) and says the problem
/// in our words: no .NET texts ("Could not find a part of the path", "System.Int32"). Issue 14.
/// </summary>
public sealed class ErrorLineTests : IDisposable
{
    private readonly TempDirectory _dir = new("errorline");

    public void Dispose() => _dir.Dispose();

    private static string OneLine(ProcessResult r, int exitCode)
    {
        Assert.True(r.ExitCode == exitCode, $"exit {r.ExitCode}: {r.Stderr}");
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains("see 'mountchain --help'")).ToList();
        Assert.True(lines.Count == 1, r.Stderr);
        Assert.StartsWith("mountchain: ", lines[0]);
        Assert.DoesNotContain("System.", lines[0]);
        Assert.DoesNotContain("Could not find", lines[0]);
        Assert.DoesNotContain("internal error", lines[0]);
        return lines[0];
    }

    [Fact]
    public void An_option_value_of_the_wrong_type_is_named_in_our_words()
    {
        string image = _dir.RandomImage("disk.raw", 1 << 20);
        string line = OneLine(MountChainCli.Run("diff", image, "--from", "0", "--to", "abc"), 2);
        Assert.Contains("--to: 'abc' is not a whole number", line);
    }

    [Fact]
    public void Output_into_a_missing_folder_names_the_folder()
    {
        string image = _dir.RandomImage("disk.raw", 1 << 20);
        string missing = _dir.File("no-such-folder");
        Assert.Contains(missing, OneLine(MountChainCli.Run("convert", image, Path.Combine(missing, "out.raw")), 2));
        Assert.Contains(missing, OneLine(MountChainCli.Run("cat", image, "-o", Path.Combine(missing, "out.raw")), 2));
    }

    [Fact]
    public void The_runtimes_own_file_errors_become_path_and_problem()
    {
        File.WriteAllText(_dir.File("plain-file"), "x");
        string under = _dir.File("plain-file") + "/sub";
        string missing = _dir.File("missing-folder") + "/file";
        var notADirectory = Assert.ThrowsAny<IOException>(() => Directory.CreateDirectory(under));
        var noFolder = Assert.ThrowsAny<IOException>(() => File.OpenRead(missing));
        var cannotRead = Record.Exception(() => new FileStream(_dir.Path, FileMode.Create));
        Assert.NotNull(cannotRead);
        foreach (var (e, path) in new[] { (notADirectory, under), (noFolder, missing), (cannotRead!, _dir.Path) })
        {
            string line = MountChain.Cli.Infrastructure.ErrorLine.Translate(e.Message);
            Assert.StartsWith(path + ": ", line);
            Assert.DoesNotContain("'", line);
        }
    }

    [QemuFact]
    public void A_CID_mismatch_names_ignore_cid()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "base.vmdk", "4M");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "c1.vmdk");
        SparseFileEditor.EditEmbeddedDescriptor(_dir.File("base.vmdk"), t => System.Text.RegularExpressions.Regex.Replace(t, "\nCID=[0-9a-f]+", "\nCID=0abc0def"));
        string line = OneLine(MountChainCli.Run("hash", _dir.File("c1.vmdk")), 1);
        Assert.Contains("c1.vmdk", line);
        Assert.Contains("--ignore-cid", line);
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", NeedsRootAndFuse = true)]
    public void A_damaged_NTFS_record_names_the_disk_file_and_the_volume()
    {
        string image = _dir.File("ntfs.img");
        string mnt = _dir.Dir("fill");
        ProcessRunner.Bash($"truncate -s 16M {image} && mkntfs -F -Q {image} >/dev/null && ntfs-3g {image} {mnt}");
        try { ProcessRunner.Bash("mkdir docs && echo hello > docs/report.txt", mnt); }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        var ls = JsonDocument.Parse(MountChainCli.Run("ls", image, "p0:/docs", "--json").StdoutBytes).RootElement;
        int record = (int)ls.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "report.txt").GetProperty("id").GetUInt64();

        // Tear the file's MFT record: its first sector's last two bytes no longer match the update sequence.
        var ntfs = new NtfsImagePatcher(image);
        long at = ntfs.RecordOffset(record) + 510;
        var b = NtfsImagePatcher.ReadAt(image, at, 2);
        b[0] ^= 0xFF;
        NtfsImagePatcher.WriteAt(image, at, b);

        string line = OneLine(MountChainCli.Run("cat-file", image, "p0:/docs/report.txt"), 1);
        Assert.Contains(image, line);
        Assert.Contains("p0", line);
        Assert.Contains($"MFT record {record}", line);
    }
}
