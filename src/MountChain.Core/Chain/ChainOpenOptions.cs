namespace MountChain.Core.Chain;

/// <summary>How a chain is opened.</summary>
public sealed record ChainOpenOptions
{
    /// <summary>Open only the named link (VDDK OPEN_SINGLE_LINK): unallocated grains read as zeros.</summary>
    public bool SingleLink { get; init; }

    /// <summary>Forensic override: accept CID mismatches between links (read-only use only).</summary>
    public bool IgnoreCid { get; init; }

    /// <summary>Upper bound on chain length; deeper chains (or cycles) are refused.</summary>
    public int MaxDepth { get; init; } = 4096;

    /// <summary>Explicit parent mappings (hint text → file), tried first (format doc §1.7 step 1).</summary>
    public IReadOnlyDictionary<string, string> ParentMap { get; init; } = new Dictionary<string, string>();

    /// <summary>`--map-path FROM=TO` folder mappings for parent hints, tried first (format doc §1.7 step 1).</summary>
    public IReadOnlyList<PathMapping> PathMappings { get; init; } = [];

    public static ChainOpenOptions Default { get; } = new();
}
