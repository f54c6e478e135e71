using System.Diagnostics;
using System.Text;

namespace MountChain.Tests.Nbd;

/// <summary>Runs a real command-line tool with a time limit and captures what it prints.</summary>
public static class ExternalTool
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public string All => StdOut + StdErr;
    }

    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    public static Result Run(string tool, IEnumerable<string> args, int timeoutSeconds = 60) =>
        RunAsync(tool, args, timeoutSeconds).GetAwaiter().GetResult();

    public static async Task<Result> RunAsync(string tool, IEnumerable<string> args, int timeoutSeconds = 60)
    {
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', psi.ArgumentList)} did not finish within {timeoutSeconds} s");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs and insists on exit code 0, showing the tool's output otherwise.</summary>
    public static Result Check(string tool, params string[] args)
    {
        var result = Run(tool, args);
        if (result.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"{tool} {string.Join(' ', args)} exited {result.ExitCode}: {result.All}");
        return result;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream));
    }
}
