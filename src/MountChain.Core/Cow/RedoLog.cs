using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Cow;

/// <summary>How a redo log is opened for writing.</summary>
public sealed record RedoLogOptions
{
    /// <summary>Grain-table entries reach the file at the latest this long after their data (0 = only on Flush/close).</summary>
    public TimeSpan MetadataFlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Test hook: make chosen I/O calls fail (EIO/ENOSPC paths).</summary>
    internal Func<FileOperation, long, int, Exception?>? Fault { get; init; }

    /// <summary>Create new logs as version 2 (zeroed-grain GTE 1 for zero writes / TRIM) rather than version 1.</summary>
    public bool ZeroedGrains { get; init; } = true;

    public static RedoLogOptions Default { get; } = new();
}

/// <summary>
/// Our writable top link (design.md rule 4): a standard monolithicSparse child (format doc §2.8)
/// that qemu and VMware can open, written through a <see cref="SparseExtentWriter"/>. This type
/// adds the link-level rules: the embedded descriptor (parentCID, parentFileNameHint), a new random
/// CID and ddb.longContentID on the first write of every session, and the checks that a file is a
/// redo log we may write. Memory: see <see cref="SparseExtentWriter"/> (4 bytes per grain).
/// </summary>
public sealed class RedoLog : IDisposable
{
    private readonly SparseExtentWriter _writer;
    private string _descriptorText;

    private RedoLog(string path, VmdkDescriptor descriptor, string text, RedoLogOptions options)
    {
        Path = path;
        _descriptorText = text;
        Cid = descriptor.Cid;
        ParentCid = descriptor.ParentCid;
        ParentFileNameHint = descriptor.ParentFileNameHint!;
        _writer = new SparseExtentWriter(path, new SparseWriterOptions
        {
            MetadataFlushInterval = options.MetadataFlushInterval,
            Fault = options.Fault,
            OnSessionStart = StartSession,
        });
    }

    public string Path { get; }
    /// <summary>Current CID (changes on the first write of each session).</summary>
    public uint Cid { get; private set; }
    /// <summary>CID the parent had when this log was created (§1.6); must match the generation it is attached to.</summary>
    public uint ParentCid { get; }
    public string ParentFileNameHint { get; }
    public long CapacitySectors => _writer.CapacitySectors;
    public long GrainBytes => _writer.GrainBytes;
    /// <summary>What opening repaired (uncleanShutdown recovery); empty when the log was clean.</summary>
    public IReadOnlyList<string> Repairs => _writer.Repairs;
    /// <summary>Problems worked around while creating the log (e.g. its parent's child registry could not be written).</summary>
    public List<string> Warnings { get; } = [];
    /// <summary>The copy-on-write engine of the log's one extent.</summary>
    internal SparseExtentWriter Extent => _writer;

    /// <summary>
    /// Creates a new, empty redo log at <paramref name="path"/> on a parent with CID
    /// <paramref name="parentCid"/> (VDDK CreateChild's file; §2.8), and opens it.
    /// </summary>
    /// <param name="parentHint">parentFileNameHint: the parent's path relative to the log's folder.</param>
    /// <param name="ddb">Disk database copied from the nearest ancestor (geometry, adapter, …); longContentID is replaced.</param>
    public static RedoLog Create(string path, long capacitySectors, uint parentCid, string parentHint,
        IEnumerable<KeyValuePair<string, string>>? ddb = null, RedoLogOptions? options = null)
    {
        options ??= RedoLogOptions.Default;
        uint cid = DescriptorText.NewCid(parentCid);
        string text = DescriptorText.ForRedoLog(cid, parentCid, parentHint, capacitySectors, System.IO.Path.GetFileName(path), ddb ?? []);
        SparseFileCreator.Create(path, capacitySectors, text, options.ZeroedGrains);
        return Open(path, options);
    }

    /// <summary>
    /// Opens an existing redo log for writing (VDDK OPEN_SINGLE_LINK: no parent is opened). Checks it
    /// is a monolithicSparse child we can write before touching it; an uncleanShutdown log is recovered
    /// (see <see cref="Repairs"/>).
    /// </summary>
    public static RedoLog Open(string path, RedoLogOptions? options = null)
    {
        options ??= RedoLogOptions.Default;
        path = System.IO.Path.GetFullPath(path);
        var (descriptor, text) = ReadDescriptor(path);
        return new RedoLog(path, descriptor, text, options);
    }

    /// <summary>Reads and checks the embedded descriptor read-only, before any write.</summary>
    private static (VmdkDescriptor, string) ReadDescriptor(string path)
    {
        if (PathInspection.Inspect(path) != PathInspection.Kind.RegularFile)
            throw new MissingParentException(path, "no such redo log file");
        using var handle = FileOpening.OpenReadOnly(path);
        var header = EmbeddedDescriptor.TryReadHeader(handle, path)
            ?? throw new UnsupportedFeatureException(path, "is not a monolithicSparse file (no KDMV header); only monolithicSparse redo logs can be written");
        var bytes = EmbeddedDescriptor.ReadRegion(handle, header, path)
            ?? throw new UnsupportedFeatureException(path, "has no embedded descriptor: it is one extent of a split disk, not a redo log");
        var descriptor = DescriptorParser.Parse(bytes, path);
        if (!descriptor.HasParent)
            throw new OperationRefusedException(path, "is a base disk (parentCID ffffffff), not a redo log; refusing to write it");
        if (descriptor.Extents.Count != 1 || descriptor.Extents[0].Type != ExtentType.Sparse || descriptor.Extents[0].Access != ExtentAccess.ReadWrite ||
            !string.Equals(System.IO.Path.GetFileName(descriptor.Extents[0].FileName!.Replace('\\', '/')), System.IO.Path.GetFileName(path), StringComparison.Ordinal))
            throw new UnsupportedFeatureException(path, $"createType {descriptor.CreateType} with {descriptor.Extents.Count} extent(s): only monolithicSparse redo logs (one RW SPARSE extent naming the file itself) can be written");
        if ((ulong)descriptor.Extents[0].Sectors != header.Capacity)
            throw new CorruptMetadataException(path, $"header capacity {header.Capacity} sectors differs from the descriptor's extent size {descriptor.Extents[0].Sectors}");
        return (descriptor, EmbeddedDescriptor.TextOf(bytes));
    }

    /// <summary>TN50 / qemu semantics (§1.6): the first modification after open gets a new random CID.</summary>
    private void StartSession(SparseExtentWriter writer)
    {
        uint cid = DescriptorText.NewCid(Cid, ParentCid);
        string text = DescriptorText.WithCid(_descriptorText, cid, addLongContentId: true);
        var region = EmbeddedDescriptor.TryEncode(text, writer.Header);
        if (region is null)
        {
            // No room for the longContentID line: change the CID alone.
            text = DescriptorText.WithCid(_descriptorText, cid, addLongContentId: false);
            region = EmbeddedDescriptor.TryEncode(text, writer.Header)
                ?? throw new CorruptMetadataException(Path, $"descriptor does not fit its {writer.Header.DescriptorSize * Sector.Size}-byte region");
        }
        EmbeddedDescriptor.Write(writer.File, writer.Header, region);
        _descriptorText = text;
        Cid = cid;
    }

    /// <summary>Everything written before this call survives a crash once it returns.</summary>
    public void Flush() => _writer.Flush();

    /// <summary>Flushes and marks the log cleanly closed.</summary>
    public void Dispose() => _writer.Dispose();

    /// <summary>
    /// An attached log must be a file of its own (design rule 3: links are immutable): not a link
    /// of the chain being presented, and not the parent of another link, which writing would tear (§1.6).
    /// </summary>
    private static void RefuseLinkInUse(VmdkChain chain, string redoPath)
    {
        string target = PathInspection.Canonical(redoPath);
        for (int g = 0; g < chain.Links.Count; g++)
            if (PathInspection.Canonical(chain.Links[g].Path) == target)
                throw new OperationRefusedException(redoPath, $"is generation {g} of the chain being presented; refusing to write it (name a separate redo log)");
        var children = LinkFolderScan.ChildrenOf(redoPath, [System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(redoPath))!], []);
        if (children.Count > 0)
            throw new OperationRefusedException(redoPath, $"is the parent of {string.Join(", ", children)}; writing it would tear them");
    }

    /// <summary>The name a fresh redo log gets when none is given: "&lt;top&gt;-mc-&lt;UTC timestamp&gt;.vmdk" in <paramref name="directory"/> (default: the top link's folder).</summary>
    public static string DefaultPathFor(VmdkChain chain, string? directory = null)
    {
        string top = chain.Links[chain.TopGeneration].Path;
        string folder = directory ?? System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(top))!;
        return System.IO.Path.Combine(folder, $"{System.IO.Path.GetFileNameWithoutExtension(top)}-mc-{DateTime.UtcNow:yyyyMMdd-HHmmss-fff}.vmdk");
    }

    /// <summary>
    /// What the front-ends call for `--write [--redo FILE]`: presents generation
    /// <paramref name="generation"/> of <paramref name="chain"/> writable. With an existing
    /// <paramref name="redoPath"/> that log is opened and attached (validated against the
    /// generation); with a missing one it is created there; without one a fresh log named
    /// "&lt;top&gt;-mc-&lt;timestamp&gt;.vmdk" is created in <paramref name="directory"/> (default: the top link's folder).
    /// The chain stays owned by the caller and must outlive the device.
    /// </summary>
    public static WritableGeneration OpenOrCreateFor(VmdkChain chain, int generation, string? redoPath = null, string? directory = null, RedoLogOptions? options = null)
    {
        chain.RequireGeneration(generation);
        RedoLog log;
        if (redoPath is not null && File.Exists(redoPath))
        {
            RefuseLinkInUse(chain, redoPath);
            log = Open(redoPath, options);
        }
        else
        {
            redoPath ??= DefaultPathFor(chain, directory);
            log = RedoLogOperations.CreateChild(chain, generation, redoPath, options);
        }
        try
        {
            return WritableGeneration.Attach(chain, generation, log);
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }
}
