using System.CommandLine;
using System.Text;
using MountChain.Cli.Infrastructure;

namespace MountChain.Cli.Docs;

/// <summary>mountchain(1) in roff (man macros), written from the command tree (see <see cref="CommandTree"/>).</summary>
public static class ManPage
{
    public static string Render(RootCommand root, string version)
    {
        var s = new StringBuilder();
        // No date: the page is a pure function of the command definitions (reproducible installs).
        s.Append(".TH MOUNTCHAIN 1 \"\" ").Append(Quoted($"mountchain {version}")).Append(" \"User Commands\"\n");
        s.Append(".SH NAME\nmountchain \\- ").Append(Text(root.Description ?? "")).Append('\n');
        s.Append(".SH SYNOPSIS\n.B mountchain\n.I command\n.RI [ arguments ]\n.RI [ options ]\n");
        s.Append(".SH DESCRIPTION\n").Append(Text(root.Description ?? "")).Append(".\nEvery command has \\fB\\-\\-help\\fR; machine-readable output is \\fB\\-\\-json\\fR.\n");
        s.Append(".SH COMMANDS\n");
        foreach (var (path, command) in CommandTree.Commands(root))
        {
            string args = CommandTree.ArgumentsOf(command);
            s.Append(".SS ").Append(Quoted(args.Length == 0 ? path : $"{path} {args}")).Append('\n');
            s.Append(Text(command.Description ?? "")).Append('\n');
            foreach (var a in command.Arguments.Where(a => !a.Hidden))
                s.Append(".TP\n.I ").Append(Text(a.Name)).Append('\n').Append(Text(a.Description ?? "")).Append('\n');
            foreach (var o in CommandTree.OptionsOf(command, Ancestors(root, path)))
                Option(s, o);
        }
        s.Append(".SH GLOBAL OPTIONS\n");
        foreach (var o in root.Options.Where(o => !o.Hidden)) Option(s, o);
        s.Append(".SH EXIT STATUS\n");
        s.Append($".TP\n{ExitCodes.Success}\nSuccess.\n");
        s.Append($".TP\n{ExitCodes.InputProblem}\nA problem with the input: one line on standard error names the file and the problem (\\fB\\-\\-debug\\fR adds a stack trace).\n");
        s.Append($".TP\n{ExitCodes.Usage}\nA usage error.\n");
        s.Append(".SH SEE ALSO\n.BR qemu-img (1),\n.BR losetup (8),\n.BR nbdinfo (1)\n");
        return s.ToString();
    }

    private static void Option(StringBuilder s, Option o)
    {
        s.Append(".TP\n");
        var names = CommandTree.Names(o).Select(n => $"\\fB{Text(n)}\\fR");
        s.Append(string.Join(", ", names));
        if (CommandTree.ValueName(o) is { } value) s.Append(" \\fI").Append(Text(value)).Append("\\fR");
        s.Append('\n').Append(Text(o.Description ?? "")).Append('\n');
    }

    /// <summary>The root and any intermediate commands above the command at <paramref name="path"/>.</summary>
    private static IEnumerable<Command> Ancestors(RootCommand root, string path)
    {
        Command current = root;
        yield return root;
        foreach (var name in path.Split(' ').Skip(1).SkipLast(1))
        {
            current = current.Subcommands.First(c => c.Name == name);
            yield return current;
        }
    }

    /// <summary>Text safe in roff: backslashes and hyphens escaped, no line starting with a control character.</summary>
    private static string Text(string text)
    {
        string t = text.Replace("\\", "\\e").Replace("-", "\\-").Replace("\r", "").Replace("\n", " ");
        return t.StartsWith('.') || t.StartsWith('\'') ? "\\&" + t : t;
    }

    private static string Quoted(string text) => "\"" + Text(text).Replace("\"", "\\(dq") + "\"";
}
