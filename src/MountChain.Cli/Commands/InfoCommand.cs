using System.CommandLine;
using MountChain.Cli.Infrastructure;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Inspection;

namespace MountChain.Cli.Commands;

/// <summary>
/// <c>info</c>, the diagnostic command: shows what it can of any disk argument. A raw image is
/// shown as one raw link (as every other command reads it); a chain whose CIDs do not match is
/// shown whole with the mismatching links marked, exiting 1 and naming --ignore-cid.
/// </summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show the chain: each link's file, createType, CID/parentCID, capacity, grain size, allocation and validation (a raw image: its size); "
            + "CID mismatches are shown marked (exit 1); for a .vmx, the snapshot tree and each disk's generations");
        var source = new DiskSource().AddTo(command, withGeneration: false);
        command.Options.Add(CommonOptions.Json);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(source.Path)!.FullName;
            bool json = parse.GetValue(CommonOptions.Json);
            var options = source.ChainOptions(parse);
            if (Core.VmConfig.VmxFile.IsVmx(path)) return VmInfoCommand.Run(path, options, json);
            var (info, cidMismatch) = DiskFile.Classify(path) == DiskFile.Kind.Raw ? (RawInfo(path), null) : ChainInfoOf(path, options);
            if (json) Json.Write(info, Json.Types.ChainInfo);
            else PrintInfo(info);
            if (cidMismatch is not null)
                Console.Error.WriteLine($"mountchain: {cidMismatch.Message}; shown anyway, marked 'CID mismatch' (--ignore-cid reads the chain, read-only)");
            if (info.Validation == "ok") return ExitCodes.Success;
            // Exit 1 always comes with its one line on stderr, also when the report itself went to stdout.
            if (cidMismatch is null && info.Links.FirstOrDefault(l => l.Validation.StartsWith("corrupt", StringComparison.Ordinal)) is { } bad)
            {
                string problem = bad.Validation["corrupt".Length..].TrimStart(':', ' ');
                Console.Error.WriteLine($"mountchain: {(problem.Contains(bad.File, StringComparison.Ordinal) ? problem : $"{bad.File}: {problem}")}");
            }
            return ExitCodes.InputProblem;
        });
        return command;
    }

    private static ChainInfo RawInfo(string path)
    {
        long length = new FileInfo(path).Length;
        var link = new LinkInfo(0, path, "raw", null, null, null, length, 0, length, 0, "ok", [], null);
        return new ChainInfo(path, "raw", length, 1, "ok", [link], null, null);
    }

    /// <summary>The chain's report; on a CID mismatch (not overridden) the chain as --ignore-cid opens it, the mismatch returned.</summary>
    private static (ChainInfo, ChainMismatchException?) ChainInfoOf(string path, ChainOpenOptions options)
    {
        ChainMismatchException? mismatch = null;
        VmdkChain chain;
        try
        {
            chain = VmdkChain.Open(path, options);
        }
        catch (ChainMismatchException e) when (!options.IgnoreCid && e.Problem.Contains("parentCID", StringComparison.Ordinal))
        {
            chain = VmdkChain.Open(path, options with { IgnoreCid = true });
            mismatch = e;
        }
        using (chain)
        {
            const string Overridden = ": CID check overridden: ";
            var marks = chain.Warnings.Where(w => w.Contains(Overridden, StringComparison.Ordinal))
                .ToDictionary(w => w[..w.IndexOf(Overridden, StringComparison.Ordinal)], w => w[(w.IndexOf(Overridden, StringComparison.Ordinal) + Overridden.Length)..]);
            var links = chain.Links.Select((link, g) =>
            {
                var report = LinkInspector.Inspect(link);
                string validation = marks.TryGetValue(link.Path, out var problem)
                    ? $"CID mismatch: {problem}" + (report.Validation == "ok" ? "" : $"; {report.Validation}")
                    : report.Validation;
                return new LinkInfo(g, link.Path, link.CreateType, link.Cid.ToString("x8"), link.ParentCid.ToString("x8"),
                    link.Descriptor.ParentFileNameHint, link.CapacitySectors * 512, link.GrainSectors * 512,
                    report.AllocatedBytes, report.ZeroBytes, validation,
                    link.Descriptor.Extents.Select(e => new ExtentInfo(e.Access.ToString(), e.Type.ToString(), e.Sectors * 512, e.FileName, e.Offset)).ToList(),
                    report.Problems.Count == 0 ? null : report.Problems);
            }).ToList();
            bool corrupt = links.Any(l => l.Validation.StartsWith("corrupt", StringComparison.Ordinal));
            string overall = corrupt ? "corrupt" : mismatch is not null ? "cid-mismatch" : "ok";
            // Overrides we made ourselves are the marks above, not warnings.
            var warnings = chain.Warnings.Where(w => mismatch is null || !w.Contains(Overridden, StringComparison.Ordinal)).ToList();
            var ddb = DiskDatabase.Effective(chain.Links);
            return (new ChainInfo(path, "vmdk", chain.CapacitySectors * 512, chain.Links.Count, overall, links, warnings.Count == 0 ? null : warnings,
                ddb.Count == 0 ? null : ddb), mismatch);
        }
    }

    private static void PrintInfo(ChainInfo info)
    {
        Console.WriteLine($"{(info.Format == "raw" ? "raw image" : "chain")}: {info.File}");
        Console.WriteLine($"capacity:  {info.SizeBytes} bytes ({Progress.FormatBytes(info.SizeBytes)})");
        if (info.Format == "raw")
        {
            Console.WriteLine("not a VMDK: read as a raw disk image (generation 0) by every command");
            return;
        }
        Console.WriteLine($"links:     {info.LinkCount} (generations 0..{info.LinkCount - 1})");
        Console.WriteLine($"validation: {info.Validation}");
        foreach (var w in info.Warnings ?? []) Console.WriteLine($"warning:   {w}");
        // §1.5: the adapter, geometry, uuid, … the disk presents, each from the nearest link that has it.
        if (info.DiskDatabase is { } ddb) Console.WriteLine($"ddb:       {string.Join("  ", ddb.Select(kv => $"{kv.Key}={kv.Value}"))}");
        foreach (var l in info.Links)
        {
            Console.WriteLine();
            Console.WriteLine($"generation {l.Generation}: {l.File}");
            Console.WriteLine($"  createType: {l.CreateType}");
            Console.WriteLine($"  CID: {l.Cid}  parentCID: {l.ParentCid}{(l.ParentHint is null ? "" : $"  parent hint: {l.ParentHint}")}");
            Console.WriteLine($"  capacity: {l.SizeBytes} bytes  grain: {(l.GrainBytes == 0 ? "-" : l.GrainBytes + " bytes")}");
            Console.WriteLine($"  allocated: {l.AllocatedBytes} bytes ({Progress.FormatBytes(l.AllocatedBytes)}), zeroed: {l.ZeroBytes} bytes");
            foreach (var e in l.Extents)
                Console.WriteLine($"  extent: {e.Access} {e.Type} {e.SizeBytes} bytes {(e.File is null ? "" : $"\"{e.File}\"")}{(e.OffsetSectors != 0 ? $" at sector {e.OffsetSectors}" : "")}");
            Console.WriteLine($"  validation: {(l.Validation.StartsWith("CID mismatch", StringComparison.Ordinal) ? "!! " : "")}{l.Validation}");
            foreach (var p in l.Problems ?? []) if (!l.Validation.Contains(p)) Console.WriteLine($"  warning: {p}");
        }
    }

    /// <param name="Format">"vmdk" or "raw" (a file that is not a VMDK, read as a raw image).</param>
    internal sealed record ChainInfo(string File, string Format, long SizeBytes, int LinkCount, string Validation, List<LinkInfo> Links, IReadOnlyList<string>? Warnings,
        Dictionary<string, string>? DiskDatabase);
    internal sealed record LinkInfo(int Generation, string File, string CreateType, string? Cid, string? ParentCid, string? ParentHint,
        long SizeBytes, long GrainBytes, long AllocatedBytes, long ZeroBytes, string Validation, List<ExtentInfo> Extents, IReadOnlyList<string>? Problems);
    internal sealed record ExtentInfo(string Access, string Type, long SizeBytes, string? File, long OffsetSectors);
}
