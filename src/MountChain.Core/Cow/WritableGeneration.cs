using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Cow;

/// <summary>
/// A generation presented writable (VDDK Attach): our <see cref="RedoLog"/> on top of the read-only
/// device of the generation below it. Reads: log grain (GTE ≥ 2) → log data, GTE 1 → zeros,
/// GTE 0 → the generation's grain map. Writes and discards go to the log only; no other file
/// changes. Thread-safe like the log's engine (concurrent FUSE/NBD calls).
/// </summary>
public sealed class WritableGeneration : IBlockDevice
{
    private readonly IBlockDevice _lower;
    private readonly VmdkChain? _ownedChain;
    private readonly BelowReader _below;

    private WritableGeneration(RedoLog log, IBlockDevice lower, int generation, VmdkChain? ownedChain)
    {
        Log = log;
        _lower = lower;
        _ownedChain = ownedChain;
        Generation = generation;
        _below = (buffer, offset) => _lower.Read(buffer, offset);
    }

    public RedoLog Log { get; }
    /// <summary>The read-only generation below the log.</summary>
    public IBlockDevice Lower => _lower;
    /// <summary>Index the log has in extents reports: the attached generation + 1.</summary>
    public int Generation { get; }
    public long Length => Log.CapacitySectors * Sector.Size;
    public bool CanWrite => true;
    int? IBlockDevice.TopGeneration => Generation;

    /// <summary>
    /// Hangs <paramref name="log"/> under generation <paramref name="generation"/> of <paramref name="chain"/>
    /// after checking that it was made on that generation: same capacity, parentCID = the
    /// generation's CID (format doc §1.6; fffffffe cannot be checked). The parent is never written.
    /// The device owns <paramref name="log"/>; <paramref name="ownsChain"/> says whether it also disposes the chain.
    /// </summary>
    public static WritableGeneration Attach(VmdkChain chain, int generation, RedoLog log, bool ownsChain = false)
    {
        chain.RequireGeneration(generation);
        var parent = chain.Links[generation];
        switch (ParentFit.Check(log.CapacitySectors, log.ParentCid, parent.CapacitySectors, parent.Cid))
        {
            case ParentFitResult.CapacityDiffers:
                throw new ChainMismatchException(log.Path, $"capacity {log.CapacitySectors} sectors differs from generation {generation} ({parent.Path}, {parent.CapacitySectors} sectors); refusing to attach");
            case ParentFitResult.CidDiffers:
                throw new ChainMismatchException(log.Path, $"parentCID {log.ParentCid:x8} does not match CID {parent.Cid:x8} of generation {generation} ({parent.Path}): the log was made on other content; refusing to attach");
        }
        var lower = chain.OpenGeneration(generation);
        return new WritableGeneration(log, lower, generation + 1, ownsChain ? chain : null);
    }

    /// <summary>
    /// Opens the redo log at <paramref name="logPath"/> for writing on top of its own chain (the parents
    /// its hint names, validated by CID): what `mountchain write` uses. Refuses when another link in the
    /// log's folder names the log as its parent (writing would tear it) unless <paramref name="force"/>.
    /// </summary>
    public static WritableGeneration OpenLog(string logPath, RedoLogOptions? options = null, ChainOpenOptions? chainOptions = null, bool force = false)
    {
        logPath = Path.GetFullPath(logPath);
        if (!force)
        {
            var children = LinkFolderScan.ChildrenOf(logPath, [Path.GetDirectoryName(logPath)!], []);
            if (children.Count > 0)
                throw new OperationRefusedException(logPath, $"is the parent of {string.Join(", ", children)}; writing it would tear them (use --force to write anyway)");
        }
        // Recover the log first, so the read-only chain open below sees repaired tables.
        var log = RedoLog.Open(logPath, options);
        VmdkChain? chain = null;
        try
        {
            chain = VmdkChain.Open(logPath, (chainOptions ?? ChainOpenOptions.Default) with { SingleLink = false, IgnoreCid = false });
            if (chain.TopGeneration < 1)
                throw new MissingParentException(logPath, "its parent chain could not be opened");
            return Attach(chain, chain.TopGeneration - 1, log, ownsChain: true);
        }
        catch
        {
            log.Dispose();
            chain?.Dispose();
            throw;
        }
    }

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        Log.Extent.Read(buffer, offset, _below);
    }

    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, data.Length);
        Log.Extent.Write(data, offset, _below);
    }

    public void Flush() => Log.Flush();

    /// <summary>TRIM: zeroed grains in the log, never GTE 0 (which would resurrect parent data).</summary>
    public void Discard(long offset, long length) => WriteZeroes(offset, length);

    public void WriteZeroes(long offset, long length)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        Log.Extent.WriteZeroes(offset, length, _below);
    }

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        var extent = Log.Extent;
        long grainBytes = extent.GrainBytes;
        long end = offset + length;
        var lowerRuns = new List<BlockExtent>();
        while (offset < end)
        {
            long grain = offset / grainBytes;
            uint e = extent.Entry(grain);
            // Join following grains of the same class (data / zero / from below).
            long spanned = (end - 1) / grainBytes - grain + 1;
            long runEnd = Math.Min(end, (grain + extent.SameKindRun(grain, spanned)) * grainBytes);
            if (e == 0)
            {
                lowerRuns.Clear();
                _lower.GetExtents(offset, runEnd - offset, lowerRuns);
                foreach (var r in lowerRuns) ExtentMerger.Append(output, r);
            }
            else
            {
                ExtentMerger.Append(output, new BlockExtent(offset, runEnd - offset, e == 1 ? ExtentKind.Zero : ExtentKind.Data, Generation));
            }
            offset = runEnd;
        }
    }

    /// <summary>Flushes and closes the log (uncleanShutdown cleared), then the lower device (and the chain if owned).</summary>
    public void Dispose()
    {
        try
        {
            Log.Dispose();
        }
        finally
        {
            _lower.Dispose();
            _ownedChain?.Dispose();
        }
    }
}
