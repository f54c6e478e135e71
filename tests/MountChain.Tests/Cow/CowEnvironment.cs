using System.Security.Cryptography;

namespace MountChain.Tests.Cow;

/// <summary>A temporary folder with helpers to run qemu tools and the mountchain CLI (out of process).</summary>
public sealed class CowEnvironment : IDisposable
{
    private readonly TempDirectory _directory = new("mc-cow");

    public string Dir => _directory.Path;

    public string PathOf(string name) => _directory.File(name);

    public static (int Exit, string Out, string Err) Run(string tool, string arguments, string? stdin = null, byte[]? stdinBytes = null, string? workingDirectory = null)
    {
        var r = ProcessRunner.RunCommandLine(tool, arguments, workingDirectory, stdin, stdinBytes, TimeSpan.FromMinutes(5));
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    /// <summary>Runs a tool and fails the test with its stderr when it exits non-zero.</summary>
    public string Tool(string tool, string arguments)
    {
        var (exit, output, error) = Run(tool, arguments, workingDirectory: Dir);
        Assert.True(exit == 0, $"{tool} {arguments} exited {exit}: {error}{output}");
        return output;
    }

    public (int Exit, string Out, string Err) Mountchain(string arguments, byte[]? stdin = null)
    {
        var r = MountChainCli.RunCommandLine(Dir, arguments, stdin);
        return (r.ExitCode, r.Stdout, r.Stderr);
    }

    /// <summary>The virtual disk as qemu sees it (qemu-img convert to raw, following the backing chain).</summary>
    public byte[] QemuRaw(string vmdk)
    {
        string raw = PathOf($"qemu-{Guid.NewGuid():N}.raw");
        Tool("qemu-img", $"convert -f vmdk -O raw \"{vmdk}\" \"{raw}\"");
        var bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    public void QemuCheckClean(string vmdk)
    {
        var (exit, output, error) = Run("qemu-img", $"check -f vmdk \"{vmdk}\"");
        Assert.True(exit == 0 && output.Contains("No errors"), $"qemu-img check {vmdk}: exit {exit}: {output}{error}");
    }

    public static string Sha(string file)
    {
        using var s = File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(s));
    }

    /// <summary>A qemu base with patterned data plus a qemu child with more: generation 0 and 1.</summary>
    public (string Base, string Child) QemuChain(string size = "64M")
    {
        string b = PathOf("base.vmdk"), c = PathOf("c1.vmdk");
        Tool("qemu-img", $"create -f vmdk \"{b}\" {size}");
        Tool("qemu-io", $"-f vmdk -c \"write -P 0x5a 0 20M\" -c \"write -P 0x33 40M 3M\" \"{b}\"");
        Tool("qemu-img", $"create -f vmdk -b base.vmdk -F vmdk \"{c}\"");
        Tool("qemu-io", $"-f vmdk -c \"write -P 0xc1 1M 2M\" -c \"write -P 0xc2 30M 11M\" \"{c}\"");
        return (b, c);
    }

    public void Dispose() => _directory.Dispose();
}
