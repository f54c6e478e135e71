using System.Text.RegularExpressions;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Docs;

/// <summary>README and --help agree (issue 14): every `mountchain CMD … --option` line of the README names a command and options its --help lists.</summary>
public sealed partial class ReadmeCommandTests
{
    [Fact]
    public void Every_readme_command_line_uses_options_its_help_lists()
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        var helps = new Dictionary<string, string>();
        var problems = new List<string>();
        foreach (Match m in CommandLine().Matches(readme))
        {
            string command = m.Groups["cmd"].Value;
            string rest = m.Groups["rest"].Value;
            rest = rest.Contains('#') ? rest[..rest.IndexOf('#')] : rest; // not the comment
            if (!helps.TryGetValue(command, out var help))
            {
                var r = MountChainCli.Run(command, "--help");
                help = helps[command] = r.ExitCode == 0 ? r.Stdout : "";
                if (r.ExitCode != 0) { problems.Add($"mountchain {command}: no such command"); continue; }
            }
            foreach (Match option in Option().Matches(rest))
                if (!Regex.IsMatch(help, $@"(^|[\s,]){Regex.Escape(option.Value)}([\s,<]|$)", RegexOptions.Multiline))
                    problems.Add($"mountchain {command}: {option.Value} is not in its --help");
        }
        Assert.True(helps.Count > 15, $"only {helps.Count} commands found in the README");
        Assert.True(problems.Count == 0, string.Join("\n", problems.Distinct()));
    }

    [GeneratedRegex(@"^mountchain (?<cmd>[a-z][a-z-]+)(?<rest>.*)$", RegexOptions.Multiline)]
    private static partial Regex CommandLine();

    [GeneratedRegex(@"(?<![\w-])--?[a-z][a-z-]*")]
    private static partial Regex Option();

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "MountChain.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
