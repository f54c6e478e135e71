using System.CommandLine;
using MountChain.Cli.Commands;
using MountChain.Core.Errors;

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
        InputFile = null;
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"mountchain: {error.Message}");
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
            return Report(e, debug);
        }
    }

    /// <summary>
    /// The disk file the command opened (set by <see cref="DiskSource"/>): errors raised inside it,
    /// by the partition, LVM and file-system readers that see only a device, are reported naming it.
    /// </summary>
    public static string? InputFile { get; set; }

    /// <summary>Prints one line naming the file and the problem; the exit code says whose fault it is.</summary>
    public static int Report(Exception e, bool debug)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerExceptions[0];
        int code = e switch
        {
            UsageException => ExitCodes.Usage,
            _ => ExitCodes.InputProblem,
        };
        string message = e switch
        {
            VmdkException => e.Message,
            FileNotFoundException f => $"{f.FileName ?? "file"}: no such file",
            DirectoryNotFoundException => e.Message,
            UnauthorizedAccessException => e.Message,
            IOException => NameInputFile(e.Message),
            UsageException => e.Message,
            _ => $"internal error: {e.GetType().Name}: {e.Message}",
        };
        Console.Error.WriteLine($"mountchain: {OneLine(message)}");
        if (debug) Console.Error.WriteLine(e.ToString());
        return code;
    }

    private static string NameInputFile(string message) =>
        InputFile is { } file && !message.Contains(file, StringComparison.Ordinal) ? $"{file}: {message}" : message;

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');
}
