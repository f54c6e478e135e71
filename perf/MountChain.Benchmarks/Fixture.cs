using System.Diagnostics;

namespace MountChain.Benchmarks;

/// <summary>
/// The benchmark chain: a 1 GiB fully written base and 128 children with scattered writes, built by
/// perf/mkfixture.sh (qemu-img/qemu-io) in $MOUNTCHAIN_PERF_DIR or /tmp/mountchain-perf and reused
/// while its manifest matches. Depth d is opened as c{d}.vmdk (d children over the base).
/// </summary>
public static class Fixture
{
    private static readonly Lock Gate = new();
    private static string? _chainDir;

    public static string Directory =>
        Environment.GetEnvironmentVariable("MOUNTCHAIN_PERF_DIR") is { Length: > 0 } d ? d : "/tmp/mountchain-perf";

    /// <summary>The path of the link that opens a chain of <paramref name="depth"/> children.</summary>
    public static string ChainTop(int depth) => Path.Combine(ChainDirectory(), depth == 0 ? "base.vmdk" : $"c{depth}.vmdk");

    /// <summary>
    /// Reads every file of the depth-<paramref name="depth"/> chain once, so benchmarks measure the
    /// read path over the page cache rather than the disk (e2e.sh does the same for both tools).
    /// </summary>
    public static void WarmPageCache(int depth)
    {
        var buffer = new byte[1 << 20];
        for (int g = 0; g <= depth; g++)
        {
            using var handle = File.OpenHandle(ChainTop(g));
            long length = RandomAccess.GetLength(handle);
            for (long pos = 0; pos < length;)
            {
                int n = RandomAccess.Read(handle, buffer, pos);
                if (n <= 0) break;
                pos += n;
            }
        }
    }

    private static string ChainDirectory()
    {
        lock (Gate)
        {
            if (_chainDir is not null) return _chainDir;
            string script = FindScript();
            var start = new ProcessStartInfo("bash", [script, Directory]) { RedirectStandardOutput = true };
            using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start bash");
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"{script} failed with exit code {process.ExitCode}");
            return _chainDir = output.Split('\n')[^1];
        }
    }

    /// <summary>perf/mkfixture.sh, found by walking up from the benchmark's binaries (BenchmarkDotNet runs them from a copy).</summary>
    private static string FindScript()
    {
        if (Environment.GetEnvironmentVariable("MOUNTCHAIN_PERF_SCRIPT") is { Length: > 0 } s) return s;
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "perf", "mkfixture.sh");
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new FileNotFoundException("perf/mkfixture.sh not found above the benchmark binaries; set MOUNTCHAIN_PERF_SCRIPT");
    }
}
