using System.Diagnostics;
using System.Text;

namespace MountChain.Tests.Infrastructure;

/// <summary>What a program did: exit code and everything it printed (stdout kept as bytes too).</summary>
public sealed record ProcessResult(int ExitCode, byte[] StdoutBytes, string Stderr)
{
    public string Stdout => Encoding.UTF8.GetString(StdoutBytes);
    public string All => Stdout + Stderr;
}

/// <summary>
/// The one way tests run programs (qemu-img, qemu-io, nbd tools, mkfs, mount, bash, the CLI): found
/// through <see cref="ToolLocator"/> (PATH plus the sbin folders), with a time limit, output captured.
/// </summary>
public static class ProcessRunner
{
    /// <summary>Bound on any run: a hang fails the test instead of stalling the suite.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Runs the program and returns what happened; never throws on a non-zero exit.</summary>
    public static ProcessResult Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    public static ProcessResult Run(string file, IEnumerable<string> args, string? workingDirectory = null, string? stdin = null,
        TimeSpan? timeout = null, byte[]? stdinBytes = null, IReadOnlyDictionary<string, string>? environment = null) =>
        RunAsync(file, args, workingDirectory, stdin, timeout, stdinBytes, environment).GetAwaiter().GetResult();

    public static Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, string? stdin = null,
        TimeSpan? timeout = null, byte[]? stdinBytes = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = StartInfo(file, args, workingDirectory);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) psi.Environment[key] = value;
        return ExecuteAsync(psi, stdin, stdinBytes, timeout);
    }

    /// <summary>
    /// For helpers written with one argument string (<c>create -f vmdk "a b.vmdk" 64M</c>), which .NET
    /// splits as a C runtime would; otherwise like <see cref="Run(string, IEnumerable{string}, string?, string?, TimeSpan?, byte[]?, IReadOnlyDictionary{string, string}?)"/>.
    /// </summary>
    public static ProcessResult RunCommandLine(string file, string arguments, string? workingDirectory = null, string? stdin = null,
        byte[]? stdinBytes = null, TimeSpan? timeout = null)
    {
        var psi = StartInfo(file, [], workingDirectory);
        psi.Arguments = arguments;
        return ExecuteAsync(psi, stdin, stdinBytes, timeout).GetAwaiter().GetResult();
    }

    private static async Task<ProcessResult> ExecuteAsync(ProcessStartInfo psi, string? stdin, byte[]? stdinBytes, TimeSpan? timeout)
    {
        psi.RedirectStandardInput = true;
        using var p = Process.Start(psi)!;
        var stdout = new MemoryStream();
        var outTask = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var errTask = p.StandardError.ReadToEndAsync();
        if (stdinBytes is not null) p.StandardInput.BaseStream.Write(stdinBytes);
        else if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var limit = timeout ?? DefaultTimeout;
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            await p.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{psi.FileName} {psi.Arguments}{string.Join(' ', psi.ArgumentList)} did not finish within {limit}");
        }
        await outTask;
        return new ProcessResult(p.ExitCode, stdout.ToArray(), await errTask);
    }

    /// <summary>Runs the program, fails with its output if it exits non-zero, and returns its stdout.</summary>
    public static string Check(string file, params string[] args) => Check(file, (IEnumerable<string>)args);

    public static string Check(string file, IEnumerable<string> args, string? workingDirectory = null, string? stdin = null, TimeSpan? timeout = null) =>
        CheckResult(file, args, workingDirectory, stdin, timeout).Stdout;

    /// <summary>As <see cref="Check(string, string[])"/>, keeping everything the program printed.</summary>
    public static ProcessResult CheckResult(string file, params string[] args) => CheckResult(file, (IEnumerable<string>)args);

    public static ProcessResult CheckResult(string file, IEnumerable<string> args, string? workingDirectory = null, string? stdin = null, TimeSpan? timeout = null)
    {
        var r = Run(file, args, workingDirectory, stdin, timeout);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({r.ExitCode}): {r.Stderr.Trim()}{r.Stdout}");
        return r;
    }

    /// <summary>Runs a bash script (-euo pipefail); fails with its stderr when it fails; returns stdout.</summary>
    public static string Bash(string script, string? workingDirectory = null, int timeoutSeconds = 300)
    {
        var r = Run("/bin/bash", ["-euo", "pipefail", "-c", script], workingDirectory, timeout: TimeSpan.FromSeconds(timeoutSeconds),
            environment: new Dictionary<string, string> { ["LC_ALL"] = "C.UTF-8" });
        if (r.ExitCode != 0) throw new InvalidOperationException($"bash failed ({r.ExitCode}): {r.Stderr}\nscript: {script}");
        return r.Stdout;
    }

    /// <summary>A start description for a long-running program the test talks to: no shell, stdout and stderr captured.</summary>
    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> args, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(ToolLocator.Resolve(file))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
