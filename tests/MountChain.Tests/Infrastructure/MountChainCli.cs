using System.Diagnostics;
using MountChain.Cli.Infrastructure;

namespace MountChain.Tests.Infrastructure;

/// <summary>
/// Tests that swap Console.Out/Error (process-global) run in this collection, which xunit runs
/// alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "Console-redirecting CLI tests";
}

/// <summary>
/// The one way tests run the mountchain CLI as a child process or in this process. A child process is
/// the binary named by MOUNTCHAIN_CLI when it is set (scripts/test.sh sets it to the installed native
/// NativeAOT build, so AOT-only breakage fails the suite), else the JIT build next to the tests.
/// </summary>
public static class MountChainCli
{
    private static readonly Lock ConsoleLock = new();

    /// <summary>Default bound on any CLI run: a hang fails the test instead of stalling the suite.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The built CLI (`dotnet mountchain.dll`), copied next to the tests by the project reference.</summary>
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "mountchain.dll");

    /// <summary>The native binary to test instead of the JIT build (an absolute path), or null.</summary>
    public static string? NativeBinary { get; } = Environment.GetEnvironmentVariable("MOUNTCHAIN_CLI") is { Length: > 0 } p ? Path.GetFullPath(p) : null;

    /// <summary>The program a child process runs, and the arguments that come before the command's.</summary>
    public static (string File, string[] Prefix) Program => NativeBinary is { } native ? (native, []) : (DotnetHost, [DllPath]);

    /// <summary>The CLI as the start of a shell command line, quoted ('/usr/local/bin/mountchain' or 'dotnet' 'mountchain.dll').</summary>
    public static string ShellCommand => string.Join(' ', new[] { Program.File }.Concat(Program.Prefix).Select(a => $"'{a}'"));

    /// <summary>Runs `mountchain args` as a child process; stdout is kept as bytes too.</summary>
    public static ProcessResult Run(params string[] args) => Run(DefaultTimeout, args);

    public static ProcessResult Run(TimeSpan timeout, params string[] args) =>
        ProcessRunner.Run(Program.File, [.. Program.Prefix, .. args], timeout: timeout);

    /// <summary>As <see cref="Run(string[])"/>, in <paramref name="workingDirectory"/> with <paramref name="stdin"/> fed to it.</summary>
    public static ProcessResult RunIn(string workingDirectory, IEnumerable<string> args, byte[]? stdin = null) =>
        ProcessRunner.Run(Program.File, [.. Program.Prefix, .. args], workingDirectory, timeout: TimeSpan.FromMinutes(5), stdinBytes: stdin);

    /// <summary>As <see cref="RunIn"/> with the arguments as one command-line string (<c>write "a b.vmdk" --offset 1M</c>).</summary>
    public static ProcessResult RunCommandLine(string workingDirectory, string arguments, byte[]? stdin = null) =>
        ProcessRunner.RunCommandLine(Program.File, string.Join(' ', Program.Prefix.Select(a => $"\"{a}\"").Append(arguments)), workingDirectory,
            stdinBytes: stdin, timeout: TimeSpan.FromMinutes(5));

    /// <summary>A start description for a CLI process the test keeps running (serve, mount --foreground).</summary>
    public static ProcessStartInfo StartInfo(params string[] args) => StartInfoIn(null, args);

    public static ProcessStartInfo StartInfoIn(string? workingDirectory, params string[] args)
    {
        var psi = ProcessRunner.StartInfo(Program.File, [.. Program.Prefix, .. args], workingDirectory);
        psi.RedirectStandardInput = true;
        return psi;
    }

    /// <summary>
    /// CliApp.Run with captured stdout/stderr. Only for commands that write through Console.Out
    /// (not `cat`, which writes the raw stdout stream). Callers belong to <see cref="ConsoleCollection"/>.
    /// </summary>
    public static ProcessResult RunInProcess(params string[] args) => RunInProcess(DefaultTimeout, args);

    public static ProcessResult RunInProcess(TimeSpan timeout, params string[] args)
    {
        lock (ConsoleLock)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Console.SetOut(stdout);
            Console.SetError(stderr);
            try
            {
                var run = Task.Run(() => CliApp.Run(args));
                if (!run.Wait(timeout))
                    throw new TimeoutException($"mountchain {string.Join(' ', args)} did not finish within {timeout}");
                return new ProcessResult(run.Result, System.Text.Encoding.UTF8.GetBytes(stdout.ToString()), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }

    /// <summary>The dotnet host running these tests (or the one on PATH).</summary>
    public static string DotnetHost =>
        Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
}
