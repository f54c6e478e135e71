namespace MountChain.Core.Mapping;

/// <summary>Tuning of the grain map.</summary>
internal sealed record GrainMapOptions
{
    /// <summary>log2 of the region size in sectors: 16 = 32 MiB, what one hosted grain table covers.</summary>
    public int RegionShift { get; init; } = 16;

    /// <summary>
    /// Upper bound on cached runs across all regions (≈ 64 bytes each); when exceeded, regions are
    /// evicted and rebuilt from the on-disk tables on their next use. 256 Ki runs ≈ 16 MiB.
    /// </summary>
    public int RunBudget { get; init; } = 256 * 1024;

    public static GrainMapOptions Default { get; } = new();
}
