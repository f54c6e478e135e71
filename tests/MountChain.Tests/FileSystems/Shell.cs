using System.Diagnostics;
using System.Text;

namespace MountChain.Tests.FileSystems;

/// <summary>Runs bash snippets and the mountchain CLI for file-system tests.</summary>
internal static class Shell
{
    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr)
    {
        public string Text => Encoding.UTF8.GetString(Stdout);
    }

    /// <summary>Runs a bash script; throws with its stderr when it fails.</summary>
    public static string Bash(string script, string? workingDirectory = null, int timeoutSeconds = 300)
    {
        var r = Run("/bin/bash", ["-euo", "pipefail", "-c", script], workingDirectory, timeoutSeconds);
        if (r.ExitCode != 0) throw new InvalidOperationException($"bash failed ({r.ExitCode}): {r.Stderr}\nscript: {script}");
        return r.Text;
    }

    /// <summary>Runs the real mountchain CLI (the assembly built next to the tests).</summary>
    public static Result MountChain(params string[] args) =>
        Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "mountchain.dll"), .. args], null, 120);

    public static Result Run(string file, string[] args, string? workingDirectory, int timeoutSeconds)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C.UTF-8";
        using var p = Process.Start(psi)!;
        var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeoutSeconds}s");
        }
        copy.Wait();
        return new Result(p.ExitCode, stdout.ToArray(), stderr.Result);
    }

    public static string Sha256File(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(s));
    }
}
