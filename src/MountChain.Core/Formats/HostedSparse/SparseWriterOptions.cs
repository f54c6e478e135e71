namespace MountChain.Core.Formats.HostedSparse;

/// <summary>Reads bytes of the disk below a writable extent (to fill the rest of a partly written grain).</summary>
/// <param name="byteOffset">Offset in the extent's own address space.</param>
internal delegate void BelowReader(Span<byte> buffer, long byteOffset);

/// <summary>Tuning and test hooks of a <see cref="SparseExtentWriter"/>.</summary>
internal sealed record SparseWriterOptions
{
    /// <summary>Grain-table entries are written at the latest this long after their data (0 = only on Flush/close).</summary>
    public TimeSpan MetadataFlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Test hook: return an exception to make that I/O call fail (the EIO / ENOSPC paths).</summary>
    public Func<FileOperation, long, int, Exception?>? Fault { get; init; }

    /// <summary>Called once, before the first write of a session, after uncleanShutdown was set (RedoLog rewrites the CID here).</summary>
    public Action<SparseExtentWriter>? OnSessionStart { get; init; }

    public static SparseWriterOptions Default { get; } = new();
}
