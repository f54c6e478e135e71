using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Fuse;

/// <summary>Mounting generations of a real VMDK snapshot chain built by qemu-img / qemu-io.</summary>
public sealed class FuseVmdkChainTests
{
    [RequiresFuseFact("qemu-img", "qemu-io")]
    public void Each_generation_mounted_shows_the_bytes_qemu_converts_it_to()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string baseRaw = scratch.File("base.raw");
        File.WriteAllBytes(baseRaw, FuseBlockFileMountTests.RandomBytes(16 << 20, 21));
        string baseVmdk = scratch.File("base.vmdk"), child = scratch.File("child.vmdk");
        ProcessRunner.Check("qemu-img", "convert", "-f", "raw", "-O", "vmdk", baseRaw, baseVmdk);
        ProcessRunner.Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", baseVmdk, "-F", "vmdk", child);
        ProcessRunner.Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x5a 1M 3M", "-c", "write -z 8M 64k", child);
        var inputs = new[] { baseVmdk, child }.ToDictionary(f => f, FuseBlockFileMountTests.Sha256);

        foreach (var (generation, leaf) in new[] { (0, child), (1, child) })
        {
            string expected = scratch.File($"expected{generation}.raw");
            ProcessRunner.Check("qemu-img", "convert", "-O", "raw", generation == 0 ? baseVmdk : leaf, expected);
            string mp = scratch.Dir($"mnt{generation}");
            try
            {
                var r = MountChainCli.Run("mount", leaf, "-g", generation.ToString(), mp);
                Assert.True(r.ExitCode == 0, r.Stderr);
                Assert.Equal(FuseBlockFileMountTests.Sha256(expected), FuseBlockFileMountTests.Sha256(Path.Combine(mp, "disk.raw")));
                Assert.Equal(0, MountChainCli.Run("unmount", mp).ExitCode);
            }
            finally { MountChainCli.Run("unmount", "--lazy", mp); }
        }
        foreach (var (file, hash) in inputs)
            Assert.Equal(hash, FuseBlockFileMountTests.Sha256(file));
    }
}
