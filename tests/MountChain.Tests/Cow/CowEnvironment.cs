using System.Diagnostics;
using System.Security.Cryptography;

namespace MountChain.Tests.Cow;

/// <summary>A temporary folder with helpers to run qemu tools and the mountchain CLI (out of process).</summary>
public sealed class CowEnvironment : IDisposable
{
    public CowEnvironment()
    {
        Dir = Path.Combine(Path.GetTempPath(), "mc-cow-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; }

    public string PathOf(string name) => Path.Combine(Dir, name);

    public static (int Exit, string Out, string Err) Run(string tool, string arguments, string? stdin = null, byte[]? stdinBytes = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(tool, arguments)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null || stdinBytes is not null,
            UseShellExecute = false, WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (stdinBytes is not null) { p.StandardInput.BaseStream.Write(stdinBytes); p.StandardInput.Close(); }
        else if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        if (!p.WaitForExit(300_000)) { p.Kill(true); throw new TimeoutException($"{tool} {arguments} hung"); }
        return (p.ExitCode, outTask.Result, errTask.Result);
    }

    /// <summary>Runs a tool and fails the test with its stderr when it exits non-zero.</summary>
    public string Tool(string tool, string arguments)
    {
        var (exit, output, error) = Run(tool, arguments, workingDirectory: Dir);
        Assert.True(exit == 0, $"{tool} {arguments} exited {exit}: {error}{output}");
        return output;
    }

    public static string MountchainDll => Path.Combine(AppContext.BaseDirectory, "mountchain.dll");

    public (int Exit, string Out, string Err) Mountchain(string arguments, byte[]? stdin = null) =>
        Run("dotnet", $"\"{MountchainDll}\" {arguments}", stdinBytes: stdin, workingDirectory: Dir);

    public static ProcessStartInfo MountchainStart(string arguments, string dir) => new("dotnet", $"\"{MountchainDll}\" {arguments}")
    {
        RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir,
    };

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

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
