using System.Text.Json;
using MountChain.Tests.FileSystems.Xfs;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>What a user sees of ext-only things from the CLI: extended attributes, and a journal that needs recovery.</summary>
[Collection(ExtKernelImageCollection.Name)]
public sealed class ExtCliTests(ExtKernelImage images)
{
    private static ProcessResult Ok(ProcessResult r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");
        return r;
    }

    [ExtRootFact]
    public void Ls_xattrs_shows_what_getfattr_shows_including_acls()
    {
        var image = images.Get("ext4");
        // getfattr -d -m - -e hex: "name=0xHEX" lines after "# file: xattrs"; the ACL in the POSIX xattr form the kernel converts to.
        var kernel = image.Xattrs.Split('\n').Where(l => l.Contains('=')).Order(StringComparer.Ordinal).ToList();
        Assert.Contains(kernel, l => l.StartsWith("system.posix_acl_access=", StringComparison.Ordinal));
        var text = Ok(MountChainCli.Run("ls", image.Path, "p0:/xattrs", "-l", "-x")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith(" xattrs", text[0]);
        Assert.Equal(kernel, text[1..].Select(l => l.Trim()).Order(StringComparer.Ordinal));
        var json = JsonDocument.Parse(Ok(MountChainCli.Run("ls", image.Path, "p0:/xattrs", "--xattrs", "--json")).StdoutBytes).RootElement.GetProperty("entries")[0];
        Assert.Equal(kernel, json.GetProperty("xattrs").EnumerateObject().Select(p => $"{p.Name}={p.Value.GetString()}").Order(StringComparer.Ordinal));
        // Without xattrs (or the option) nothing more is printed.
        Assert.Single(Ok(MountChainCli.Run("ls", image.Path, "p0:/tiny", "-x")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [ExtRootTheory]
    [InlineData("ext4")]
    [InlineData("ext2")]
    public void Extract_restores_what_the_kernel_showed_with_hard_links_xattrs_and_holes(string variant)
    {
        var image = images.Get(variant);
        string output = Path.Combine(images.WorkDir, $"extract-{variant}");
        if (Directory.Exists(output)) Directory.Delete(output, true);
        Ok(MountChainCli.Run("extract", image.Path, "p0:/", output));
        var ours = XfsKernelImage.ParseListing(ProcessRunner.CheckIn(output, "find", ".", "-mindepth", "1", "-printf", "%P\t%y\t%s\t%T@\t%i\t%n\t%m\t%U\t%G\t%l\n"));
        var sums = XfsKernelImage.ParseSums(ProcessRunner.CheckIn(output, "bash", "-c", "find . -type f -print0 | xargs -0 sha256sum"));
        // FIFOs and device nodes are listed by ls but not extracted as data.
        Assert.Equal(image.Entries.Values.Where(k => k.Type is 'f' or 'd' or 'l').Select(k => k.Path).Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, e) in ours)
        {
            var k = image.Entries[path];
            Assert.True(k.Type == e.Type && k.Mode == e.Mode && k.Uid == e.Uid && k.Gid == e.Gid, $"{path}: {e} vs kernel {k}");
            if (k.Type == 'l') Assert.Equal(k.LinkTarget, e.LinkTarget);
            else if (k.MtimeSeconds >= 0) Assert.True(k.MtimeSeconds == e.MtimeSeconds && k.MtimeSubTicks == e.MtimeSubTicks, $"{path}: mtime {e.MtimeSeconds}.{e.MtimeSubTicks}, kernel {k.MtimeSeconds}.{k.MtimeSubTicks}");
            if (k.Type != 'f') continue;
            Assert.True(k.Size == e.Size && k.Links == e.Links, $"{path}: size {e.Size} links {e.Links}, kernel {k.Size} {k.Links}");
            Assert.Equal(image.Sha256[path], sums[path]);
        }
        Assert.Equal(ours["/small/f5"].Inode, ours["/links/hard5"].Inode);
        // Holes stay holes: the 12 MiB file with 192 KiB of data, the 9 MiB file of nothing.
        Assert.True(long.Parse(ProcessRunner.CheckIn(output, "stat", "-c", "%b", "sparse/tailhole").Trim()) * 512 <= 3 * 65536 + 65536);
        Assert.Equal("0", ProcessRunner.CheckIn(output, "stat", "-c", "%b", "sparse/onlyhole").Trim());
        var kernel = image.Xattrs.Split('\n').Where(l => l.Contains('=')).Order(StringComparer.Ordinal);
        var restored = ProcessRunner.CheckIn(output, "getfattr", "--absolute-names", "-d", "-m", "-", "-e", "hex", "xattrs").Split('\n').Where(l => l.Contains('='));
        Assert.Equal(kernel, restored.Order(StringComparer.Ordinal));
    }

    [ExtRootFact]
    public void A_journal_that_needs_recovery_is_noted_by_volumes_and_help_and_read_as_on_disk()
    {
        string dir = Path.Combine(images.WorkDir, "journal");
        Directory.CreateDirectory(dir);
        string image = Path.Combine(dir, "fs.img"), copy = Path.Combine(dir, "crash.img"), mnt = Path.Combine(dir, "mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"truncate -s 64M {image} && mkfs.ext4 -q -F -L crashed {image}");
        ProcessRunner.Bash($"mount -o loop {image} {mnt}");
        try
        {
            // A copy taken while the kernel has the file system mounted is what a snapshot of a running guest holds.
            ProcessRunner.Bash($"mkdir {mnt}/etc && echo host > {mnt}/etc/hostname && sync && cp --sparse=always {image} {copy}");
        }
        finally { ProcessRunner.Bash($"umount {mnt}"); }
        Assert.Contains("needs_recovery", ProcessRunner.Check("dumpe2fs", "-h", copy));
        string before = Hashing.Sha256File(copy);
        var line = Ok(MountChainCli.Run("volumes", copy)).Stdout.Split('\n')[1];
        Assert.Contains("ext4", line);
        Assert.Contains("crashed (journal needs recovery: read as on disk, without replaying it)", line);
        var json = JsonDocument.Parse(Ok(MountChainCli.Run("volumes", copy, "--json")).StdoutBytes).RootElement.GetProperty("volumes")[0];
        Assert.Contains("journal needs recovery", json.GetProperty("note").GetString());
        Assert.Contains("never replayed", Ok(MountChainCli.Run("volumes", "--help")).Stdout);
        Ok(MountChainCli.Run("ls", copy, "p0:/"));
        Assert.Equal(before, Hashing.Sha256File(copy));
        // The clean image (after umount) has no note.
        Assert.DoesNotContain("journal", Ok(MountChainCli.Run("volumes", image)).Stdout);
    }
}
