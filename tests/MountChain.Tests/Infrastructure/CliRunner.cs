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

/// <summary>Runs the mountchain CLI in this process (fast; Console redirected) or as a child process.</summary>
public static class CliRunner
{
    private static readonly Lock ConsoleLock = new();

    /// <summary>Default bound on any CLI run: a hang fails the test instead of stalling the suite.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// CliApp.Run with captured stdout/stderr. Only for commands that write through Console.Out
    /// (not `cat`, which writes the raw stdout stream). Callers belong to <see cref="ConsoleCollection"/>.
    /// </summary>
    public static ToolResult RunInProcess(params string[] args) => RunInProcess(DefaultTimeout, args);

    public static ToolResult RunInProcess(TimeSpan timeout, params string[] args)
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
                return new ToolResult(run.Result, System.Text.Encoding.UTF8.GetBytes(stdout.ToString()), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
        }
    }

    /// <summary>The built CLI (`dotnet mountchain.dll`), copied next to the tests by the project reference.</summary>
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "mountchain.dll");

    /// <summary>Runs `dotnet mountchain.dll args` as a child process; stdout is kept as bytes.</summary>
    public static ToolResult RunProcess(params string[] args) => RunProcess(DefaultTimeout, args);

    public static ToolResult RunProcess(TimeSpan timeout, params string[] args) =>
        ExternalTool.Run("dotnet", new[] { DllPath }.Concat(args), timeout: timeout);
}
