using System.CommandLine;
using System.Security.Cryptography;
using MountChain.Cli.Infrastructure;
using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Core.Inspection;

namespace MountChain.Cli.Commands;

/// <summary>Read-side chain commands: info, hash, cat, convert, map, changed.</summary>
public static class ChainCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return InfoCommand.Create();
        yield return Hash();
        yield return Cat();
        yield return Convert();
        yield return Map();
        yield return Changed();
    }

    private static Option<bool> JsonOption => CommonOptions.Json;

    private static Command Hash()
    {
        var command = new Command("hash", "sha256 of a generation's whole virtual disk (first token of the output is the hex digest)");
        var source = new DiskSource().AddTo(command);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            using var disk = source.Open(parse);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (var progress = new Progress("hash", disk.Device.Length, parse.GetValue(JsonOption)))
                SequentialReader.ReadAll(disk.Device, 0, disk.Device.Length, (block, _) => sha.AppendData(block.Span), progress);
            string hex = System.Convert.ToHexStringLower(sha.GetHashAndReset());
            if (parse.GetValue(JsonOption)) Json.Write(new HashResult(hex, disk.SourcePath, disk.Generation, disk.Device.Length), Json.Types.HashResult);
            else Console.WriteLine($"{hex}  {disk.SourcePath} (generation {disk.Generation})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Cat()
    {
        var command = new Command("cat", "Write a generation's raw virtual disk to standard output (refused when that is a terminal) or to --output FILE");
        var source = new DiskSource().AddTo(command);
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file (created or replaced) instead of standard output" };
        command.Options.Add(output);
        command.SetAction(parse =>
        {
            var file = parse.GetValue(output);
            if (file is null && !Console.IsOutputRedirected)
                throw new UsageException("standard output is a terminal: refusing to write a binary disk image to it (redirect it, e.g. 'mountchain cat DISK > disk.raw', or use -o FILE)");
            using var disk = source.Open(parse);
            if (file is not null && InputFiles(disk).Any(input => PathsEqual(file.FullName, input)))
                throw new UsageException($"{file.FullName}: refusing to overwrite an input file of the chain");
            if (file is not null) RequireFolderOf(file.FullName);
            if (KernelCopy.Applies(disk.Device))
            {
                // Linux: data runs go from the link files to the output inside the kernel.
                var generation = (Core.Chain.GenerationDevice)disk.Device;
                if (file is null)
                {
                    Console.Out.Flush();
                    KernelCopy.Copy(generation, 1);
                }
                else
                {
                    using var handle = File.OpenHandle(file.FullName, FileMode.Create, FileAccess.Write);
                    KernelCopy.Copy(generation, (int)handle.DangerousGetHandle());
                }
                return ExitCodes.Success;
            }
            using var target = file is null ? Console.OpenStandardOutput() : new FileStream(file.FullName, FileMode.Create, FileAccess.Write);
            SequentialReader.ReadAll(disk.Device, 0, disk.Device.Length, (block, _) => target.Write(block.Span));
            target.Flush();
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Convert()
    {
        var command = new Command("convert", "Export a generation as a raw image (sparse: holes stay holes); progress on a terminal");
        var source = new DiskSource().AddTo(command);
        var target = new Argument<FileInfo>("target") { Description = "Raw image to write (created or replaced)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress bar" };
        command.Arguments.Add(target);
        command.Options.Add(quiet);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            using var disk = source.Open(parse);
            var output = parse.GetValue(target)!;
            if (InputFiles(disk).Any(input => PathsEqual(output.FullName, input)))
                throw new UsageException($"{output.FullName}: refusing to overwrite an input file of the chain");
            RequireFolderOf(output.FullName);
            bool json = parse.GetValue(JsonOption);
            RawExporter.Export(disk.Device, output.FullName, parse.GetValue(quiet) || json);
            if (json) Json.Write(new ConvertResult(disk.SourcePath, disk.Generation, output.FullName, disk.Device.Length), Json.Types.ConvertResult);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Every file the opened disk reads: descriptors and extent files of each link, or the raw image.</summary>
    private static IEnumerable<string> InputFiles(OpenedDisk disk)
    {
        yield return disk.SourcePath;
        if (disk.Chain is null) yield break;
        foreach (var link in disk.Chain.Links)
        {
            yield return link.Path;
            foreach (var extent in link.Extents)
                if (extent.FilePath is not null) yield return extent.FilePath;
        }
    }

    /// <summary>An output file's folder must exist (we do not create folders for a file).</summary>
    private static void RequireFolderOf(string output)
    {
        string folder = Path.GetDirectoryName(output)!;
        if (!Directory.Exists(folder)) throw new UsageException($"{output}: folder {folder} does not exist");
    }

    private static bool PathsEqual(string a, string b) =>
        Core.Formats.PathInspection.Canonical(a) == Core.Formats.PathInspection.Canonical(b);

    private static Command Map()
    {
        var command = new Command("map", "Ranges of a generation: allocated / zero / unallocated, and which link serves each");
        var source = new DiskSource().AddTo(command);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            using var disk = source.Open(parse);
            var extents = new List<BlockExtent>();
            disk.Device.GetExtents(0, disk.Device.Length, extents);
            string? FileOf(int g) => g < 0 || disk.Chain is null ? null : disk.Chain.Links[g].Path;
            if (parse.GetValue(JsonOption))
            {
                Json.Write(new MapResult(disk.SourcePath, disk.Generation, disk.Device.Length,
                    extents.Select(e => new MapEntry(e.Offset, e.Length, KindName(e.Kind), e.Generation < 0 ? null : e.Generation, FileOf(e.Generation))).ToList()), Json.Types.MapResult);
                return ExitCodes.Success;
            }
            Console.WriteLine($"{"offset",16} {"length",16}  {"kind",-11} generation  file");
            foreach (var e in extents)
                Console.WriteLine($"{e.Offset,16} {e.Length,16}  {KindName(e.Kind),-11} {(e.Generation < 0 ? "-" : e.Generation.ToString()),-10}  {FileOf(e.Generation) ?? ""}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static string KindName(ExtentKind kind) => kind switch
    {
        ExtentKind.Data => "allocated",
        ExtentKind.Zero => "zero",
        _ => "unallocated",
    };

    private static Command Changed()
    {
        var command = new Command("changed", "Areas that changed between two generations, from the grain tables (a superset at grain granularity); with --from-file, between generations on two branches via their common ancestor");
        var source = new DiskSource().AddTo(command, withGeneration: false);
        var from = new Option<int?>("--from") { Description = "Older generation (with --from-file: the generation of that file's chain; default its top)" };
        var to = new Option<int?>("--to") { Description = "Newer generation (default: the file given)" };
        var fromFile = new Option<FileInfo?>("--from-file") { Description = "A link on another branch (a linked clone, another snapshot branch): compare with it through the common ancestor" };
        command.Options.Add(from);
        command.Options.Add(to);
        command.Options.Add(fromFile);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            var options = source.ChainOptions(parse);
            var (path, _) = source.Target(parse, options);
            if (parse.GetValue(fromFile) is { } other)
                return WriteChangedAcross(path, parse.GetValue(to), other.FullName, parse.GetValue(from), options, parse.GetValue(JsonOption));
            if (parse.GetValue(from) is not int f) throw new UsageException("changed needs --from N (or --from-file FILE)");
            return WriteChangedAreas(path, options, f, parse.GetValue(to), parse.GetValue(JsonOption));
        });
        return command;
    }

    /// <summary>Areas that differ between generation <paramref name="to"/> of <paramref name="path"/>'s chain and <paramref name="from"/> of <paramref name="fromPath"/>'s (format doc §7.3 across branches).</summary>
    private static int WriteChangedAcross(string path, int? to, string fromPath, int? from, ChainOpenOptions options, bool json)
    {
        using var a = VmdkChain.Open(path, options);
        using var b = VmdkChain.Open(fromPath, options);
        int ga = to ?? a.TopGeneration, gb = from ?? b.TopGeneration;
        if (!a.HasGeneration(ga)) throw new UsageException($"{path}: --to {ga} is not in 0..{a.TopGeneration}");
        if (!b.HasGeneration(gb)) throw new UsageException($"{fromPath}: --from {gb} is not in 0..{b.TopGeneration}");
        var (ancestor, areas) = ChangedAreas.Across(a, ga, b, gb);
        long total = areas.Sum(r => r.Length);
        if (json)
            Json.Write(new ChangedAcrossResult(path, ga, fromPath, gb, ancestor, a.Links[ancestor].Path, total, areas.Select(r => new AreaResult(r.Offset, r.Length)).ToList()), Json.Types.ChangedAcrossResult);
        else
        {
            foreach (var (offset, length) in areas) Console.WriteLine($"{offset} {length}");
            Console.Error.WriteLine($"{areas.Count} areas, {total} bytes changed between {fromPath} (generation {gb}) and {path} (generation {ga}); common ancestor: generation {ancestor}, {a.Links[ancestor].Path}");
        }
        return ExitCodes.Success;
    }

    /// <summary>Prints the areas changed between generations <paramref name="from"/> and <paramref name="to"/> (default: the top) of the chain at <paramref name="path"/>.</summary>
    public static int WriteChangedAreas(string path, ChainOpenOptions options, int from, int? to, bool json)
    {
        using var chain = VmdkChain.Open(path, options);
        int a = from, b = to ?? chain.TopGeneration;
        if (!chain.HasGeneration(a) || !chain.HasGeneration(b) || a >= b)
            throw new UsageException($"{path}: need 0 ≤ --from < --to ≤ {chain.TopGeneration} (got {a} and {b})");
        var areas = ChangedAreas.Between(chain, a, b);
        long total = areas.Sum(r => r.Length);
        if (json)
            Json.Write(new ChangedAreasResult(a, b, total, areas.Select(r => new AreaResult(r.Offset, r.Length)).ToList()), Json.Types.ChangedAreasResult);
        else
        {
            foreach (var (offset, length) in areas) Console.WriteLine($"{offset} {length}");
            Console.Error.WriteLine($"{areas.Count} areas, {total} bytes changed between generation {a} and {b}");
        }
        return ExitCodes.Success;
    }

    internal sealed record MapResult(string File, int Generation, long SizeBytes, List<MapEntry> Extents);
    internal sealed record MapEntry(long Offset, long SizeBytes, string Kind, int? Generation, string? File);
    internal sealed record HashResult(string Sha256, string File, int Generation, long SizeBytes);
    internal sealed record ChangedAreasResult(int From, int To, long ChangedBytes, List<AreaResult> Areas);
    internal sealed record AreaResult(long Offset, long SizeBytes);
    internal sealed record ChangedAcrossResult(string File, int To, string FromFile, int From, int Ancestor, string AncestorFile, long ChangedBytes, List<AreaResult> Areas);
}
