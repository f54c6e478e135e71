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
    public Option<int?> Generation { get; } = new("--generation", "-g") { Description = "Generation of the chain to present (0 = base); default: the file given" };
    public Option<bool> SingleLink { get; } = new("--single-link") { Description = "Open only this link; grains it does not hold read as zeros (VDDK OPEN_SINGLE_LINK)" };
    public Option<bool> IgnoreCid { get; } = new("--ignore-cid") { Description = "Forensics: accept CID mismatches between links (read-only)" };

    /// <summary>Adds the disk argument and the chain options to <paramref name="command"/>.</summary>
    public DiskSource AddTo(Command command, bool withGeneration = true)
    {
        command.Arguments.Add(Path);
        if (withGeneration) command.Options.Add(Generation);
        command.Options.Add(SingleLink);
        command.Options.Add(IgnoreCid);
        return this;
    }

    public ChainOpenOptions ChainOptions(ParseResult parse) => new()
    {
        SingleLink = parse.GetValue(SingleLink),
        IgnoreCid = parse.GetValue(IgnoreCid),
    };

    /// <summary>Opens the disk the command line names, read-only.</summary>
    public OpenedDisk Open(ParseResult parse)
    {
        var file = parse.GetValue(Path)!;
        int? generation = parse.GetValue(Generation);
        return OpenedDisk.Open(file.FullName, generation, ChainOptions(parse));
    }

    /// <summary>
    /// Opens the disk writable: the chain stays read-only and writes go to <paramref name="redo"/>
    /// (attached after checking its parentCID and capacity) or to a fresh redo log next to the top link.
    /// </summary>
    public OpenedDisk OpenWritable(ParseResult parse, FileInfo? redo)
    {
        var file = parse.GetValue(Path)!;
        if (parse.GetValue(IgnoreCid))
            throw new UsageException("--ignore-cid is a read-only override; it cannot be combined with --write");
        return OpenedDisk.OpenWritable(file.FullName, parse.GetValue(Generation), ChainOptions(parse), redo?.FullName);
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

    public static OpenedDisk Open(string path, int? generation, ChainOpenOptions options)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        if (!VmdkProbe.LooksLikeVmdk(path))
        {
            if (generation is > 0) throw new UsageException($"{path}: a raw image has only generation 0");
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

    public static OpenedDisk OpenWritable(string path, int? generation, ChainOpenOptions options, string? redoPath)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no such file", path);
        if (!VmdkProbe.LooksLikeVmdk(path))
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
    private static int ResolveGeneration(string path, VmdkChain chain, int? generation)
    {
        int g = generation ?? chain.TopGeneration;
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
