using System.CommandLine;
using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Core.Cow;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// The options every disk-reading command shares (the file, -g, --single-link, --ignore-cid) and
/// the code that opens what they name. A file that is not a VMDK is opened as a raw image.
/// </summary>
public sealed class DiskSource
{
    public Argument<FileInfo> Path { get; } = new("disk") { Description = "A VMDK link (descriptor or sparse file) or a raw image" };
    public Option<string?> Generation { get; } = new("--generation", "-g") { Description = "Generation to present: a number (0 = base), or a snapshot name or uid:N from the VM's .vmsd; default: the file given" };
    public Option<string?> Disk { get; } = new("--disk") { Description = "For a .vmx: which disk (e.g. scsi0:1); default: the first" };
    public Option<bool> SingleLink { get; } = new("--single-link") { Description = "Open only this link; grains it does not hold read as zeros (VDDK OPEN_SINGLE_LINK)" };
    public Option<bool> IgnoreCid { get; } = new("--ignore-cid") { Description = "Forensics: accept CID mismatches between links (read-only)" };
    public Option<string[]> MapPath { get; } = new("--map-path")
    {
        Description = "FROM=TO: look for parents whose hint starts with folder FROM (e.g. /vmfs/volumes/<uuid>/vm, C:\\VMs\\vm) under TO; repeatable",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Adds the disk argument and the chain options to <paramref name="command"/>.</summary>
    public DiskSource AddTo(Command command, bool withGeneration = true)
    {
        command.Arguments.Add(Path);
        if (withGeneration) command.Options.Add(Generation);
        command.Options.Add(Disk);
        command.Options.Add(SingleLink);
        command.Options.Add(IgnoreCid);
        command.Options.Add(MapPath);
        return this;
    }

    public ChainOpenOptions ChainOptions(ParseResult parse) => new()
    {
        SingleLink = parse.GetValue(SingleLink),
        IgnoreCid = parse.GetValue(IgnoreCid),
        PathMappings = ParseMappings(parse.GetValue(MapPath)),
    };

    private static PathMapping[] ParseMappings(string[]? texts)
    {
        try
        {
            return (texts ?? []).Select(PathMapping.Parse).ToArray();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Opens the disk the command line names, read-only.</summary>
    public OpenedDisk Open(ParseResult parse)
    {
        var options = ChainOptions(parse);
        var (path, selector) = Target(parse, options);
        return OpenedDisk.Open(path, selector, options);
    }

    /// <summary>The VMDK the command line names (for a .vmx: its disk, at the snapshot -g names) and the -g left to apply.</summary>
    public (string Path, string? Generation) Target(ParseResult parse, ChainOpenOptions options)
    {
        string path = parse.GetValue(Path)!.FullName;
        string? selector = parse.GetValue(Generation);
        if (!Core.VmConfig.VmxFile.IsVmx(path)) return (path, selector);
        var choice = Core.VmConfig.SnapshotGenerations.ForVmx(path, selector, parse.GetValue(Disk), options.PathMappings);
        return (choice.DiskPath, choice.Generation?.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The generation -g names in <paramref name="chain"/> (default: its top).</summary>
    public static int GenerationIn(VmdkChain chain, string? selector)
    {
        if (selector is null) return chain.TopGeneration;
        if (Core.VmConfig.SnapshotGenerations.IsNumber(selector, out int g)) return g;
        return Core.VmConfig.SnapshotGenerations.GenerationOf(chain, selector);
    }

    /// <summary>
    /// Opens the disk writable: the chain stays read-only and writes go to <paramref name="redo"/>
    /// (attached after checking its parentCID and capacity) or to a fresh redo log next to the top link.
    /// </summary>
    public OpenedDisk OpenWritable(ParseResult parse, FileInfo? redo)
    {
        if (parse.GetValue(IgnoreCid))
            throw new UsageException("--ignore-cid is a read-only override; it cannot be combined with --write");
        var options = ChainOptions(parse);
        var (path, selector) = Target(parse, options);
        return OpenedDisk.OpenWritable(path, selector, options, redo?.FullName);
    }
}

/// <summary>A disk opened for a command: the device and, for a VMDK, the chain behind it.</summary>
public sealed class OpenedDisk : IDisposable
{
    private OpenedDisk(string path, IBlockDevice device, VmdkChain? chain, int generation)
    {
        SourcePath = path;
        Device = device;
        Chain = chain;
        Generation = generation;
    }

    public string SourcePath { get; }
    public IBlockDevice Device { get; }
    /// <summary>Null for a raw image.</summary>
    public VmdkChain? Chain { get; }
    /// <summary>Generation presented (0 for a raw image).</summary>
    public int Generation { get; }

    /// <summary>The redo log receiving writes, or null for a read-only disk.</summary>
    public string? RedoLogPath { get; private init; }

    public static OpenedDisk Open(string path, int? generation, ChainOpenOptions options) =>
        Open(path, generation?.ToString(System.Globalization.CultureInfo.InvariantCulture), options);

    public static OpenedDisk Open(string path, string? generation, ChainOpenOptions options)
    {
        if (DiskFile.Classify(path) == DiskFile.Kind.Raw)
        {
            if (generation is not null && generation != "0") throw new UsageException($"{path}: a raw image has only generation 0");
            return new OpenedDisk(path, new RawFileBlockDevice(path), null, 0);
        }
        var chain = VmdkChain.Open(path, options);
        try
        {
            int g = ResolveGeneration(path, chain, generation);
            return new OpenedDisk(path, chain.OpenGeneration(g), chain, g);
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    public static OpenedDisk OpenWritable(string path, string? generation, ChainOpenOptions options, string? redoPath)
    {
        if (DiskFile.Classify(path) == DiskFile.Kind.Raw)
            throw new UsageException($"{path}: --write needs a VMDK chain (a raw image has no redo log to write into)");
        var chain = VmdkChain.Open(path, options);
        try
        {
            int g = ResolveGeneration(path, chain, generation);
            var device = RedoLog.OpenOrCreateFor(chain, g, redoPath);
            return new OpenedDisk(path, device, chain, g) { RedoLogPath = device.Log.Path };
        }
        catch
        {
            chain.Dispose();
            throw;
        }
    }

    /// <summary>The generation asked for (default: the file given), checked against the chain.</summary>
    private static int ResolveGeneration(string path, VmdkChain chain, string? generation)
    {
        int g = DiskSource.GenerationIn(chain, generation);
        if (!chain.HasGeneration(g))
            throw new UsageException($"{path}: generation {g} does not exist (the chain has 0..{chain.TopGeneration})");
        return g;
    }

    public void Dispose()
    {
        Device.Dispose();
        Chain?.Dispose();
    }
}
