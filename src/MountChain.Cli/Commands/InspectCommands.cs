using System.CommandLine;
using MountChain.Cli.Infrastructure;
using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Core.Errors;
using MountChain.Core.Inspection;

namespace MountChain.Cli.Commands;

/// <summary>Whole-folder and whole-chain inspection: `tree` (every link of a folder as a forest) and `check` (every §10.2 hazard).</summary>
public static class InspectCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Tree();
        yield return Check();
    }

    private static Option<string[]> MapPathOption() => new("--map-path")
    {
        Description = "FROM=TO: look for parents whose hint starts with folder FROM under TO; repeatable",
        Arity = ArgumentArity.ZeroOrMore,
    };

    private static ChainOpenOptions Options(string[]? mappings)
    {
        try
        {
            return new ChainOpenOptions { PathMappings = (mappings ?? []).Select(PathMapping.Parse).ToArray() };
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    // ---- tree ----------------------------------------------------------------------------------

    private static Command Tree()
    {
        var command = new Command("tree", "Every link in a folder as a tree (descriptors only): bases, branches (snapshot trees, linked clones), CIDs checked on each edge; broken links, cycles and orphan extent files listed");
        var folder = new Argument<DirectoryInfo>("folder") { Description = "The folder to scan (not recursive; parents elsewhere are followed)" };
        var mapPath = MapPathOption();
        command.Arguments.Add(folder);
        command.Options.Add(mapPath);
        command.Options.Add(CommonOptions.Json);
        command.SetAction(parse =>
        {
            var result = FolderTree.Scan(parse.GetValue(folder)!.FullName, Options(parse.GetValue(mapPath)));
            if (parse.GetValue(CommonOptions.Json)) Json.Write(TreeJson(result), Json.Types.TreeJsonRoot);
            else PrintTree(result);
            return ExitCodes.Success;
        });
        return command;
    }

    internal sealed record TreeNodeJson(string File, string CreateType, string Cid, string ParentCid, long SizeBytes, string[] Extents,
        bool? OutsideFolder, string Edge, string? Problem, List<TreeNodeJson> Children);
    internal sealed record StrayJson(string File, string Reason);
    internal sealed record TreeJsonRoot(string Folder, int Links, List<TreeNodeJson> Roots, List<TreeNodeJson> InCycles, List<StrayJson> Orphans, List<StrayJson> Unreadable);

    private static TreeJsonRoot TreeJson(FolderTreeResult r)
    {
        TreeNodeJson Node(TreeNode n, int depth) => new(n.Path, n.Link.Descriptor.CreateType, n.Link.Descriptor.Cid.ToString("x8"),
            n.Link.Descriptor.ParentCid.ToString("x8"), n.Link.CapacitySectors * 512,
            n.Link.Descriptor.Extents.Select(e => e.Type.ToString()).Distinct().ToArray(), n.OutsideFolder ? true : null,
            EdgeName(n.Edge.State), n.Edge.Problem, depth > 4096 ? [] : n.Children.Select(c => Node(c, depth + 1)).ToList());
        return new TreeJsonRoot(r.Folder, r.LinkCount, r.Roots.Select(n => Node(n, 0)).ToList(), r.InCycles.Select(n => Node(n, 4097)).ToList(),
            r.Orphans.Select(o => new StrayJson(o.Path, o.Reason)).ToList(), r.Unreadable.Select(o => new StrayJson(o.Path, o.Reason)).ToList());
    }

    private static string EdgeName(ParentEdgeState state) => state switch
    {
        ParentEdgeState.Base => "base",
        ParentEdgeState.Fits => "ok",
        ParentEdgeState.Uncheckable => "cidUnchecked",
        ParentEdgeState.CidDiffers => "cidMismatch",
        ParentEdgeState.CapacityDiffers => "capacityDiffers",
        ParentEdgeState.Unreadable => "parentUnreadable",
        _ => "parentMissing",
    };

    private static void PrintTree(FolderTreeResult r)
    {
        string Name(string path)
        {
            string rel = Path.GetRelativePath(r.Folder, path);
            return rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel) ? path : rel;
        }
        string Label(TreeNode n)
        {
            var d = n.Link.Descriptor;
            string kind = string.Join("+", d.Extents.Select(e => e.Type.ToString().ToUpperInvariant()).Distinct());
            string edge = n.Edge.State switch
            {
                ParentEdgeState.Base or ParentEdgeState.Fits => "",
                ParentEdgeState.Uncheckable => "  (CID fffffffe: not checkable)",
                _ => $"  BROKEN: {n.Edge.Problem}",
            };
            return $"{Name(n.Path)}  [{d.CreateType}, {kind}, CID {d.Cid:x8}, {Progress.FormatBytes(n.Link.CapacitySectors * 512)}]{(n.OutsideFolder ? " (outside the folder)" : "")}{edge}";
        }
        void Print(TreeNode n, string prefix, string childPrefix, int depth)
        {
            Console.WriteLine(prefix + Label(n));
            if (depth > 4096) return;
            for (int i = 0; i < n.Children.Count; i++)
            {
                bool last = i == n.Children.Count - 1;
                Print(n.Children[i], childPrefix + (last ? "└── " : "├── "), childPrefix + (last ? "    " : "│   "), depth + 1);
            }
        }
        Console.WriteLine($"{r.Folder}: {r.LinkCount} links, {r.Roots.Count} trees");
        foreach (var root in r.Roots) Print(root, "", "", 0);
        foreach (var n in r.InCycles) Console.WriteLine($"cycle: {Label(n)}  BROKEN: its parent hints loop back, no base is reached");
        foreach (var o in r.Orphans) Console.WriteLine($"orphan: {Name(o.Path)}: {o.Reason}");
        foreach (var u in r.Unreadable) Console.WriteLine($"unreadable: {Name(u.Path)}: {u.Reason}");
    }

    // ---- check ---------------------------------------------------------------------------------

    private static Command Check()
    {
        var command = new Command("check", "Check every link of a chain for the hazards of format doc §10.2 (like qemu-img check): exit 0 clean, 1 problems found; --repair recovers our own redo log");
        var file = new Argument<FileInfo>("disk") { Description = "A VMDK link (its chain is checked, base to this link)" };
        var repair = new Option<bool>("--repair") { Description = "Repair the top link if it is a redo log we may write (as repair-log does), then check again; no other link is ever written" };
        var mapPath = MapPathOption();
        command.Arguments.Add(file);
        command.Options.Add(repair);
        command.Options.Add(mapPath);
        command.Options.Add(CommonOptions.Json);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(file)!.FullName;
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
            var options = Options(parse.GetValue(mapPath));
            var report = ChainChecker.Check(path, options);
            IReadOnlyList<string>? repairs = null;
            if (parse.GetValue(repair) && report.HasProblems)
            {
                repairs = RepairTop(report);
                report = ChainChecker.Check(path, options);
            }
            bool json = parse.GetValue(CommonOptions.Json);
            if (json) Json.Write(CheckJson(report, repairs), Json.Types.CheckResult);
            else PrintCheck(report, repairs);
            return report.HasProblems ? ExitCodes.InputProblem : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// --repair: only the top link, only when it is a redo log we may write (RedoLog's own checks:
    /// a monolithicSparse child naming itself) and no other link names it as parent; the repair is
    /// the redo log's open-time recovery (`repair-log`). Anything else is refused before a byte is written.
    /// </summary>
    private static List<string> RepairTop(ChainCheckReport report)
    {
        string top = report.Links[^1].File;
        var elsewhere = report.Links.Take(report.Links.Count - 1).Where(l => l.Findings.Any(f => f.Severity == FindingSeverity.Problem)).Select(l => l.File).ToList();
        var repairs = new List<string>();
        if (elsewhere.Count > 0)
            repairs.Add($"not repaired (not the redo log on top; links we opened are never written): {string.Join(", ", elsewhere)}");
        if (!report.Links[^1].Findings.Any(f => f.Severity == FindingSeverity.Problem)) return repairs;
        var children = LinkFolderScan.ChildrenOf(top, [Path.GetDirectoryName(top)!], []);
        if (children.Count > 0)
            throw new OperationRefusedException(top, $"--repair refused: {string.Join(", ", children)} name it as parent, so it is a link of another chain, not a redo log to repair");
        try
        {
            using var log = RedoLog.Open(top, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero });
            repairs.AddRange(log.Repairs.Count == 0 ? ["the redo log's recovery found nothing it can repair"] : log.Repairs);
        }
        catch (VmdkException e)
        {
            throw new OperationRefusedException(e.FilePath, $"--repair refused: {e.Problem} (only our own redo logs are repaired; nothing was written)");
        }
        return repairs;
    }

    internal sealed record FindingJson(string File, string Field, long? Offset, string Severity, string Message);
    internal sealed record LinkCheckJson(string File, string? CreateType, List<FindingJson> Findings);
    internal sealed record CheckResult(string File, bool Clean, IReadOnlyList<string>? Repairs, List<LinkCheckJson> Links);

    private static CheckResult CheckJson(ChainCheckReport report, IReadOnlyList<string>? repairs) =>
        new(report.File, !report.HasProblems, repairs, report.Links.Select(l => new LinkCheckJson(l.File, l.CreateType,
            l.Findings.Select(f => new FindingJson(f.File, f.Field, f.Offset, f.Severity == FindingSeverity.Problem ? "problem" : "warning", f.Message)).ToList())).ToList());

    private static void PrintCheck(ChainCheckReport report, IReadOnlyList<string>? repairs)
    {
        foreach (var r in repairs ?? []) Console.WriteLine($"repair: {r}");
        int problems = 0, warnings = 0;
        for (int g = 0; g < report.Links.Count; g++)
        {
            var link = report.Links[g];
            Console.WriteLine($"generation {g}: {link.File} ({link.CreateType ?? "?"}): {(link.Findings.Count == 0 ? "clean" : $"{link.Findings.Count} finding(s)")}");
            foreach (var f in link.Findings)
            {
                if (f.Severity == FindingSeverity.Problem) problems++; else warnings++;
                string at = f.Offset is long o ? $" @ {o}" : "";
                Console.WriteLine($"  {(f.Severity == FindingSeverity.Problem ? "problem" : "warning")}: {f.File}: {f.Field}{at}: {f.Message}");
            }
        }
        Console.WriteLine(problems == 0
            ? $"clean: {report.Links.Count} link(s), no problems{(warnings > 0 ? $", {warnings} warning(s)" : "")}"
            : $"{problems} problem(s), {warnings} warning(s) in {report.Links.Count} link(s)");
    }
}
