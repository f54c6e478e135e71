using System.CommandLine;
using System.CommandLine.Help;

namespace MountChain.Cli.Docs;

/// <summary>
/// The visible commands and options of the parser's tree, as --help shows them: the man page and
/// the bash completion are generated from this walk, so they cannot drift from the definitions.
/// </summary>
public static class CommandTree
{
    /// <summary>Every visible subcommand, depth first, with its full name ("mountchain info").</summary>
    public static IEnumerable<(string Path, Command Command)> Commands(RootCommand root)
    {
        foreach (var sub in root.Subcommands.Where(c => !c.Hidden))
            foreach (var entry in Walk(sub, $"mountchain {sub.Name}"))
                yield return entry;
    }

    private static IEnumerable<(string, Command)> Walk(Command command, string path)
    {
        yield return (path, command);
        foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
            foreach (var entry in Walk(sub, $"{path} {sub.Name}"))
                yield return entry;
    }

    /// <summary>The options a command accepts: its own, then recursive ones of its ancestors (--debug, --help).</summary>
    public static IReadOnlyList<Option> OptionsOf(Command command, IEnumerable<Command> ancestors)
    {
        var list = command.Options.Where(o => !o.Hidden).ToList();
        foreach (var a in ancestors)
            list.AddRange(a.Options.Where(o => o.Recursive && !o.Hidden && !list.Contains(o)));
        return list;
    }

    /// <summary>The Unix spellings of an option, long name first ("--generation", "-g"; not "/?").</summary>
    public static IEnumerable<string> Names(Option option) =>
        new[] { option.Name }.Concat(option.Aliases.Where(a => a != option.Name))
            .Where(n => n.StartsWith('-')).OrderByDescending(n => n.StartsWith("--", StringComparison.Ordinal));

    /// <summary>Whether the option is a flag (takes no value).</summary>
    public static bool IsFlag(Option option) =>
        option.ValueType == typeof(bool) || option is HelpOption or VersionOption || option.Arity.MaximumNumberOfValues == 0;

    /// <summary>The placeholder of an option's value ("N", "FILE"); null for a flag.</summary>
    public static string? ValueName(Option option) =>
        IsFlag(option) ? null : option.HelpName ?? option.Name.TrimStart('-').ToUpperInvariant();

    /// <summary>"&lt;disk&gt; &lt;child&gt;" as --help prints a command's arguments.</summary>
    public static string ArgumentsOf(Command command) =>
        string.Join(' ', command.Arguments.Where(a => !a.Hidden)
            .Select(a => $"<{a.Name}>{(a.Arity.MaximumNumberOfValues > 1 ? "..." : "")}"));
}
