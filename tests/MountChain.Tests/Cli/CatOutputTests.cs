using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// `cat` to every kind of output the kernel path (sendfile from the link files) and its fallback
/// meet: a pipe, `-o FILE`, stdout redirected to a file, and stdout opened for append (sendfile
/// refuses O_APPEND, so the rest goes through read + write). Each base format brings its own run
/// kinds: sparse data and zeroed grains, compressed grains, flat extents.
/// </summary>
public sealed class CatOutputTests(ChainCache cache) : IClassFixture<ChainCache>
{
    private static ChainSpec Spec(BaseFormat format) => new()
    {
        Base = format, Depth = 2, Size = 6 << 20, BaseFillPercent = 50, ZeroedGrain = format == BaseFormat.MonolithicSparse,
        ChildWrites = "3x64K,1x300K,2x1536", Alignment = 512, Seed = 77,
        ExtraWrites = format == BaseFormat.MonolithicSparse ? [new WriteOp(2, 1 << 20, 128 << 10, Zero: true)] : [],
    };

    [QemuTheory]
    [InlineData(BaseFormat.MonolithicSparse)]
    [InlineData(BaseFormat.StreamOptimized)]
    [InlineData(BaseFormat.MonolithicFlat)]
    public void Cat_writes_qemus_raw_image_to_a_pipe_a_file_a_redirect_and_an_append(BaseFormat format)
    {
        var chain = cache.Get(Spec(format));
        byte[] expected = File.ReadAllBytes(chain.RawPath(2));
        using var dir = new TempDirectory("cat-output");

        var piped = MountChainCli.Run("cat", chain.Top);
        Assert.True(piped.ExitCode == 0, piped.Stderr);
        Assert.True(expected.AsSpan().SequenceEqual(piped.StdoutBytes), "cat to a pipe differs from qemu's raw image");

        string named = dir.File("named.raw");
        var r = MountChainCli.Run("cat", chain.Top, "-o", named);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(expected.AsSpan().SequenceEqual(File.ReadAllBytes(named)), "cat -o differs from qemu's raw image");

        string redirected = dir.File("redirected.raw");
        r = ProcessRunner.Run("sh", ["-c", $"{MountChainCli.ShellCommand} cat '{chain.Top}' > '{redirected}'"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(expected.AsSpan().SequenceEqual(File.ReadAllBytes(redirected)), "cat > FILE differs from qemu's raw image");

        string appended = dir.File("appended.raw");
        byte[] prefix = "already here\n"u8.ToArray();
        File.WriteAllBytes(appended, prefix);
        r = ProcessRunner.Run("sh", ["-c", $"{MountChainCli.ShellCommand} cat '{chain.Top}' >> '{appended}'"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(prefix.Concat(expected).ToArray().AsSpan().SequenceEqual(File.ReadAllBytes(appended)), "cat >> FILE differs from the old bytes + qemu's raw image");
    }
}
