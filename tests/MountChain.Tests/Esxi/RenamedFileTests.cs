using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Esxi;

/// <summary>
/// Files renamed after creation (issue "ESXi inputs", also-fix): the embedded descriptor still
/// names the old file, and like qemu and VMware we read the containing file as its single extent.
/// </summary>
public sealed class RenamedFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("renamed");

    public void Dispose() => _dir.Dispose();

    private byte[] QemuRaw(string path)
    {
        string raw = _dir.File($"qemu-{Guid.NewGuid():N}.raw");
        Qemu.ConvertToRaw(path, raw);
        return File.ReadAllBytes(raw);
    }

    [QemuTheory]
    [InlineData("monolithicSparse")]
    [InlineData("streamOptimized")]
    public void A_renamed_sparse_or_stream_file_opens_and_reads_like_qemu(string subformat)
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "made.vmdk", "8M");
        Qemu.Io(_dir.Path, "made.vmdk", ["write -P 0x61 0 64k", "write -P 0x62 3M 128k"]);
        if (subformat == "streamOptimized")
        {
            Qemu.Img(_dir.Path, "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", "made.vmdk", "stream.vmdk");
            File.Delete(_dir.File("made.vmdk"));
            File.Move(_dir.File("stream.vmdk"), _dir.File("renamed copy.vmdk"));
        }
        else File.Move(_dir.File("made.vmdk"), _dir.File("renamed copy.vmdk"));
        string renamed = _dir.File("renamed copy.vmdk");
        EsxiChainTests.AssertSame(QemuRaw(renamed), EsxiChainTests.Read(renamed), "renamed file ours vs qemu");
        using var chain = VmdkChain.Open(renamed);
        Assert.Contains(chain.Links[0].Warnings, w => w.Contains("renamed?"));
    }

    [QemuFact]
    public void A_renamed_child_whose_parent_hint_is_still_right_opens_its_chain()
    {
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "base.vmdk", "8M");
        Qemu.Io(_dir.Path, "base.vmdk", ["write -P 0x71 0 1M"]);
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "child.vmdk");
        Qemu.Io(_dir.Path, "child.vmdk", ["write -P 0x72 512k 64k"]);
        File.Move(_dir.File("child.vmdk"), _dir.File("child-renamed.vmdk"));
        string child = _dir.File("child-renamed.vmdk");
        using (var chain = VmdkChain.Open(child)) Assert.Equal(1, chain.TopGeneration);
        EsxiChainTests.AssertSame(QemuRaw(child), EsxiChainTests.Read(child), "renamed child ours vs qemu");
        var info = MountChainCli.Run("info", child);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("renamed?", info.Stdout);
    }

    [Fact]
    public void A_VMFS_extent_with_an_offset_reads_from_it_and_is_warned_about()
    {
        var flat = EsxiImageBuilder.Pattern(4096 * 512, 3);
        File.WriteAllBytes(_dir.File("disk-flat.vmdk"), flat);
        string descriptor = _dir.File("disk.vmdk");
        File.WriteAllText(descriptor, EsxiImageBuilder.Descriptor("vmfs", 0x1234, 0xFFFFFFFF, null, 2048, "VMFS", "disk-flat.vmdk", " 8"));
        EsxiChainTests.AssertSame(flat.AsSpan(8 * 512, 2048 * 512).ToArray(), EsxiChainTests.Read(descriptor), "offset VMFS line");
        var info = MountChainCli.Run("info", descriptor);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("carries offset 8, outside the spec", info.Stdout);
    }
}
