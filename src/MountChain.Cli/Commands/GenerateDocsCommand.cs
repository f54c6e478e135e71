using System.CommandLine;
using System.Reflection;
using MountChain.Cli.Docs;
using MountChain.Cli.Infrastructure;

namespace MountChain.Cli.Commands;

/// <summary>
/// Hidden <c>generate-docs man|bash-completion</c>: prints the man page or the bash completion
/// script from the live command tree (scripts/install.sh installs both).
/// </summary>
public static class GenerateDocsCommand
{
    public static Command Create()
    {
        var command = new Command("generate-docs", "Print the man page (man) or the bash completion script (bash-completion) of this binary") { Hidden = true };
        var kind = new Argument<string>("kind") { Description = "man | bash-completion" };
        kind.AcceptOnlyFromAmong("man", "bash-completion");
        command.Arguments.Add(kind);
        command.SetAction(parse =>
        {
            var root = (RootCommand)parse.RootCommandResult.Command;
            Console.Out.Write(parse.GetValue(kind) == "man" ? ManPage.Render(root, Version()) : BashCompletion.Render(root));
            return ExitCodes.Success;
        });
        return command;
    }

    private static string Version()
    {
        var info = typeof(GenerateDocsCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        int plus = info.IndexOf('+');
        return plus < 0 ? info : info[..plus];
    }
}
