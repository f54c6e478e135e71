using System.CommandLine;
using MountChain.Cli.Commands;
using MountChain.Core.Errors;
using MountChain.Mounting.Lifecycle;

namespace MountChain.Cli.Infrastructure;

/// <summary>Builds the command tree and turns exceptions into one-line errors and exit codes.</summary>
public static class CliApp
{
    /// <summary>Shows stack traces on errors.</summary>
    public static readonly Option<bool> DebugOption = new("--debug")
    {
        Description = "Show a stack trace on errors",
        Recursive = true,
    };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("MountChain: open VMware VMDK snapshot chains and present any generation as a disk");
        root.Options.Add(DebugOption);
        foreach (var command in CommandCatalog.All())
            root.Subcommands.Add(command);
        return root;
    }

    public static int Run(string[] args)
    {
        if (!MountCommands.StartsDetachedServer(args)) return RunParsed(args);
        // mount: the server starts now, beside our own parsing and checking (which it repeats).
        DetachedLauncher.StartEarly();
        try { return RunParsed(args); }
        finally { DetachedLauncher.AbandonEarly(); }
    }

    private static int RunParsed(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            if (WantsJson(args))
            {
                Json.WriteError(string.Join("; ", parse.Errors.Select(e => ErrorLine.ForParseError(e.Message))), ExitCodes.Usage);
                return ExitCodes.Usage;
            }
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"mountchain: {ErrorLine.ForParseError(error.Message)}");
            Console.Error.WriteLine("mountchain: see 'mountchain --help'");
            return ExitCodes.Usage;
        }
        bool debug = parse.GetValue(DebugOption);
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return Report(e, debug, parse, WantsJson(args));
        }
    }

    /// <summary>--json asks for machine-readable errors too (on stderr).</summary>
    private static bool WantsJson(string[] args) => args.Contains("--json");

    /// <summary>Prints one line naming the file and the problem (a JSON object with --json); the exit code says whose fault it is.</summary>
    public static int Report(Exception e, bool debug, ParseResult? parse = null, bool json = false)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerExceptions[0];
        int code = e switch
        {
            UsageException => ExitCodes.Usage,
            _ => ExitCodes.InputProblem,
        };
        string message = e switch
        {
            FileNotFoundException { FileName: { } name } => $"{name}: no such file",
            VmdkException or IOException or UnauthorizedAccessException or UsageException => ErrorLine.For(e, parse),
            _ => $"internal error: {e.GetType().Name}: {e.Message}",
        };
        if (json) Json.WriteError(OneLine(message), code);
        else Console.Error.WriteLine($"mountchain: {OneLine(message)}");
        if (debug) Console.Error.WriteLine(e.ToString());
        return code;
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');
}
