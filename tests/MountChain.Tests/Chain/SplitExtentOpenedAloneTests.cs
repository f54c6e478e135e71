using MountChain.Core.Chain;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Chain;

/// <summary>
/// One extent file of a qemu-made twoGbMaxExtentSparse disk opened directly. qemu leaves the
/// embedded descriptor region of each extent blank (the descriptor is the separate .vmdk), so the
/// extent is read as what it is: one hosted sparse extent, a base of its own capacity, with a
/// warning that names the descriptor as the way to the whole disk.
/// </summary>
public sealed class SplitExtentOpenedAloneTests : IDisposable
{
    private const long TwoGiB = 2L << 30;
    private readonly TempDirectory _dir = new("splitextent");

    public void Dispose() => _dir.Dispose();

    private string MakeSplitDisk()
    {
        string disk = _dir.File("d.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", disk, "2100M");
        Qemu.Io(_dir.Path, disk, ["write -q -P 0x41 64k 64k", $"write -q -P 0x42 {TwoGiB - 4096} 8k", $"write -q -P 0x43 {TwoGiB + (3 << 20)} 4k"]);
        return disk;
    }

    [QemuFact]
    public void Each_extent_opens_alone_and_reads_its_part_of_the_disk()
    {
        using var whole = VmdkChain.Open(MakeSplitDisk());
        using var wholeDevice = whole.OpenGeneration(0);
        (string file, long start, long length)[] parts = [("d-s001.vmdk", 0, TwoGiB), ("d-s002.vmdk", TwoGiB, 52L << 20)];
        foreach (var (file, start, length) in parts)
        {
            using var alone = VmdkChain.Open(_dir.File(file));
            Assert.Single(alone.Links);
            Assert.Contains(alone.Links[0].Warnings, w => w.Contains("descriptor .vmdk", StringComparison.Ordinal));
            using var device = alone.OpenGeneration(0);
            Assert.Equal(length, device.Length);
            foreach (long offset in new[] { 0L, 64 << 10, length - 4096, Math.Min(length - 4096, 3 << 20) })
            {
                var expected = new byte[4096];
                var actual = new byte[4096];
                wholeDevice.Read(expected, start + offset);
                device.Read(actual, offset);
                Assert.True(expected.AsSpan().SequenceEqual(actual), $"{file} at {offset} differs from the whole disk at {start + offset}");
            }
        }
    }

    [QemuFact]
    public void Info_of_an_extent_succeeds_and_points_at_the_descriptor()
    {
        MakeSplitDisk();
        var r = MountChainCli.Run("info", _dir.File("d-s001.vmdk"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("descriptor .vmdk", r.All);
        Assert.DoesNotContain("'version'", r.All);
        // The extent is no link of its own in a folder scan: tree lists the disk, not an error.
        var tree = MountChainCli.Run("tree", _dir.Path);
        Assert.DoesNotContain("'version'", tree.All);
    }
}
