namespace MountChain.Core.Mapping;

/// <summary>The resolved runs of one region, sorted by start and covering it exactly. Immutable.</summary>
internal sealed class MapRegion(MapRun[] runs)
{
    private readonly long[] _starts = Array.ConvertAll(runs, r => r.Start);

    public MapRun[] Runs { get; } = runs;

    /// <summary>Index of the run containing <paramref name="sector"/>.</summary>
    public int Find(long sector)
    {
        int i = Array.BinarySearch(_starts, sector);
        return i >= 0 ? i : ~i - 1;
    }

    /// <summary>Second-chance bit for the eviction clock.</summary>
    internal volatile bool Referenced = true;
}
