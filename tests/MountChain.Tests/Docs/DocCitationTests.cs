using System.Text.RegularExpressions;

namespace MountChain.Tests.Docs;

/// <summary>
/// Every "format doc §N" (or bare "§N") and "design.md rule N" a source comment cites must name a
/// section of docs/vmdk-format.md or a rule of docs/design.md in this repository (docs/README.md).
/// </summary>
public sealed partial class DocCitationTests
{
    private static readonly string Root = FindRepositoryRoot();

    [Fact]
    public void Every_section_cited_in_the_code_exists_in_docs_vmdk_format()
    {
        var sections = FormatDocSections();
        var missing = Citations(SectionCitation())
            .Where(c => !sections.Contains(c.Value))
            .Select(c => $"{c.File}: §{c.Value}")
            .ToList();
        Assert.True(sections.Count > 50, $"docs/vmdk-format.md has only {sections.Count} numbered sections");
        Assert.True(missing.Count == 0, "citations without a section in docs/vmdk-format.md:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void Every_design_rule_cited_in_the_code_exists_in_docs_design()
    {
        var text = File.ReadAllText(Path.Combine(Root, "docs", "design.md"));
        var rules = RuleLine().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
        var missing = Citations(RuleCitation(), sections: false).Where(c => !rules.Contains(c.Value)).Select(c => $"{c.File}: rule {c.Value}").ToList();
        Assert.True(rules.Count >= 6, $"docs/design.md lists only {rules.Count} rules");
        Assert.True(missing.Count == 0, "design.md rules cited but not written:\n" + string.Join('\n', missing));
    }

    /// <summary>"2", "2.8", "10.2" … for every "## N." / "### N.M" heading.</summary>
    private static HashSet<string> FormatDocSections()
    {
        var text = File.ReadAllText(Path.Combine(Root, "docs", "vmdk-format.md"));
        return Heading().Matches(text).Select(m => m.Groups[1].Value.TrimEnd('.')).ToHashSet();
    }

    private static IEnumerable<(string File, string Value)> Citations(Regex pattern, bool sections = true)
    {
        foreach (var folder in new[] { "src", "drivers" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, folder), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains("/obj/") || file.Contains("/bin/")) continue;
                foreach (var line in File.ReadLines(file))
                {
                    bool ours = false;
                    int previousEnd = -1;
                    foreach (Match m in pattern.Matches(line))
                    {
                        // A bare "§N" is ours; a section of another document follows that document's
                        // name ("UEFI §5.3", "libfsntfs §4.2", "MS-FSCC §2.1.2.4 / §2.1.2.5").
                        string between = line[Math.Max(previousEnd, 0)..m.Index];
                        if (!sections) ours = true;
                        else if (between.Contains("format doc", StringComparison.OrdinalIgnoreCase) || previousEnd < 0)
                            ours = !WordBefore().IsMatch(between) || between.TrimEnd().EndsWith("format doc", StringComparison.OrdinalIgnoreCase);
                        previousEnd = m.Index + m.Length;
                        if (ours) yield return (Path.GetRelativePath(Root, file), m.Groups[1].Value.TrimEnd('.'));
                    }
                }
            }
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MountChain.sln"))) return dir.FullName;
        throw new InvalidOperationException("MountChain.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^#{2,3} ([0-9]+(?:\.[0-9]+)*)\.? ", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"§([0-9]+(?:\.[0-9]+)*)")]
    private static partial Regex SectionCitation();

    [GeneratedRegex(@"design\.md rule ([0-9]+)")]
    private static partial Regex RuleCitation();

    [GeneratedRegex(@"^([0-9]+)\. \*\*", RegexOptions.Multiline)]
    private static partial Regex RuleLine();

    /// <summary>A word (a document's name, maybe with a version: "UEFI spec 2.10") right before the §.</summary>
    [GeneratedRegex(@"[A-Za-z][\w.\-]*(\s+[0-9][0-9.]*)?\s*$")]
    private static partial Regex WordBefore();
}
