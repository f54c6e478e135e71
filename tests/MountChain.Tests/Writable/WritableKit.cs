using System.Diagnostics;
using System.Text;
using MountChain.Tests.Fuse;

namespace MountChain.Tests.Writable;

/// <summary>Fixtures shared by the writable end-to-end tests: qemu-made chains, header peeks, file hashes.</summary>
internal static class WritableKit
{
    /// <summary>
    /// Byte offset of uncleanShutdown in a hosted sparse extent header (VMDK 1.1 spec, SparseExtentHeader:
    /// magic 4, version 4, flags 4, capacity 8, grainSize 8, descriptorOffset 8, descriptorSize 8,
    /// numGTEsPerGT 4, rgdOffset 8, gdOffset 8, overHead 8). Read here independently of Core's parser.
    /// </summary>
    private const int UncleanShutdownOffset = 72;

    /// <summary>True when the log's header says it was not closed cleanly.</summary>
    public static bool UncleanShutdown(string vmdk)
    {
        using var handle = File.OpenHandle(vmdk);
        Span<byte> b = stackalloc byte[1];
        RandomAccess.Read(handle, b, UncleanShutdownOffset);
        return b[0] != 0;
    }

    /// <summary>
    /// base.vmdk (monolithicSparse of random bytes) ← child.vmdk
    /// (qemu-io patterns), <paramref name="size"/> bytes. Returns the paths.
    /// </summary>
    public static (string Base, string Child) RandomChain(TempDirectory scratch, int size, int seed)
    {
        if (size < 8 << 20) throw new ArgumentOutOfRangeException(nameof(size), "generation 1's patterns reach 4.125 MiB; use at least 8 MiB");
        string raw = scratch.File("base-src.raw");
        File.WriteAllBytes(raw, FuseBlockFileMountTests.RandomBytes(size, seed));
        string b = scratch.File("base.vmdk"), child = scratch.File("child.vmdk");
        ProcessRunner.Check("qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, b);
        File.Delete(raw);
        ProcessRunner.Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", b, "-F", "vmdk", child);
        // Generation 1 differs from 0: a grain-aligned run, an unaligned one, and zeros over base data.
        ProcessRunner.Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x5a 1M 256k", "-c", "write -P 0xa5 3000 5000", "-c", "write -z 4M 128k", child);
        return (b, child);
    }

    /// <summary>
    /// A GPT disk whose one partition holds ext4 made from <paramref name="content"/> (mkfs.ext4 -d),
    /// converted to base.vmdk, with an empty qemu child.vmdk on top.
    /// </summary>
    public static (string Base, string Child, long PartitionSize) Ext4Chain(TempDirectory scratch, string content)
    {
        string raw = scratch.File("disk-src.raw");
        long partitionSize = Ext4DiskImage.Build(raw, content);
        string b = scratch.File("base.vmdk"), child = scratch.File("child.vmdk");
        ProcessRunner.Check("qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, b);
        File.Delete(raw);
        ProcessRunner.Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", b, "-F", "vmdk", child);
        return (b, child, partitionSize);
    }

    /// <summary>sha256 of each file, to prove later that nothing wrote to them.</summary>
    public static Dictionary<string, string> Hashes(params string[] files) =>
        files.ToDictionary(f => f, FuseBlockFileMountTests.Sha256);

    public static void AssertUnchanged(Dictionary<string, string> before)
    {
        foreach (var (file, hash) in before)
            Assert.True(hash == FuseBlockFileMountTests.Sha256(file), $"{file} changed: a parent link was written");
    }

    /// <summary>`qemu-img check` exits 0 and finds no errors.</summary>
    public static void AssertQemuCheckClean(string vmdk)
    {
        var r = ProcessRunner.Run("qemu-img", "check", vmdk);
        Assert.True(r.ExitCode == 0, $"qemu-img check {vmdk} exited {r.ExitCode}: {r.Stdout}{r.Stderr}");
        Assert.Contains("No errors were found", r.Stdout);
    }

    /// <summary>The backing file qemu sees for <paramref name="vmdk"/>.</summary>
    public static string? BackingFile(string vmdk)
    {
        string json = ProcessRunner.Check("qemu-img", "info", "--output=json", vmdk);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.TryGetProperty("backing-filename", out var b) ? b.GetString() : null;
    }

    /// <summary>The first token `mountchain hash` prints (hex sha256 of the generation), after asserting exit 0.</summary>
    public static string MountchainHash(params string[] args)
    {
        var r = MountChainCli.Run(["hash", .. args]);
        Assert.True(r.ExitCode == 0, $"mountchain hash {string.Join(' ', args)}: {r.Stderr}");
        return r.Stdout.Split(' ', 2)[0].Trim().ToUpperInvariant();
    }

    /// <summary>Asserts a one-line `mountchain: ...` error containing each of <paramref name="parts"/>.</summary>
    public static void AssertOneLineError(ProcessResult r, int exitCode, params string[] parts)
    {
        Assert.True(r.ExitCode == exitCode, $"exit {r.ExitCode}, expected {exitCode}: {r.Stderr}");
        var lines = r.Stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1, $"expected one line, got:\n{r.Stderr}");
        Assert.StartsWith("mountchain: ", lines[0]);
        foreach (var part in parts) Assert.Contains(part, lines[0]);
    }
}

/// <summary>`mountchain serve ...` running as its own process; killed on dispose if still alive.</summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly StringBuilder _stderr;

    private ServeProcess(Process process, string uri, StringBuilder stderr)
    {
        Process = process;
        Uri = uri;
        _stderr = stderr;
    }

    public Process Process { get; }
    /// <summary>The nbd:// URI the server printed.</summary>
    public string Uri { get; }
    public int Port => new Uri(Uri).Port;

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>Starts `mountchain serve args` and waits for its "serving ... on URI" line.</summary>
    public static ServeProcess Start(params string[] args)
    {
        var process = Process.Start(MountChainCli.StartInfo(["serve", .. args]))!;
        process.StandardInput.Close();
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(60)) || line.Result is null)
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit();
            lock (errors) throw new InvalidOperationException($"mountchain serve {string.Join(' ', args)} did not start: {errors}");
        }
        return new ServeProcess(process, line.Result.Split(' ')[^1], errors);
    }

    /// <summary>Sends <paramref name="signal"/> (TERM, INT, KILL) and returns the exit code.</summary>
    public int Signal(string signal)
    {
        ProcessRunner.Check("kill", "-" + signal, Process.Id.ToString());
        Assert.True(Process.WaitForExit(30_000), $"serve did not exit after SIG{signal}");
        Process.WaitForExit(); // drain the redirected streams
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Process.WaitForExit(10_000);
        }
        Process.Dispose();
    }
}
