using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// The clusters of one file or directory as runs of consecutive cluster numbers, in file order.
/// Built once per chain (FAT walk or an exFAT NoFatChain range) and then read by binary search.
/// </summary>
internal sealed class ClusterRuns
{
    /// <summary>More fragments than this is refused (each costs 12 bytes; 2 M fragments ≈ 24 MB).</summary>
    public const int MaxRuns = 2 * 1024 * 1024;

    private readonly List<uint> _first = [];
    private readonly List<uint> _count = [];
    private readonly List<uint> _start = [];

    public static ClusterRuns Empty { get; } = new();

    /// <summary>Clusters held, in file order.</summary>
    public uint ClusterCount { get; private set; }

    public int RunCount => _first.Count;

    /// <summary>Appends one cluster, merging it into the last run when it is the next number.</summary>
    public void Add(uint cluster, string where)
    {
        int last = _first.Count - 1;
        if (last >= 0 && _first[last] + _count[last] == cluster)
            _count[last]++;
        else
        {
            if (_first.Count >= MaxRuns) throw new FileSystemCorruptException($"{where}: more than {MaxRuns} fragments");
            _first.Add(cluster);
            _count.Add(1);
            _start.Add(ClusterCount);
        }
        ClusterCount++;
    }

    /// <summary>Appends a run of <paramref name="count"/> consecutive clusters from <paramref name="first"/>.</summary>
    public void AddRange(uint first, uint count)
    {
        if (count == 0) return;
        _first.Add(first);
        _count.Add(count);
        _start.Add(ClusterCount);
        ClusterCount += count;
    }

    /// <summary>The run holding the file's cluster number <paramref name="index"/>: (first disk cluster of the rest, clusters left in the run).</summary>
    public (uint Cluster, uint Left) Locate(uint index)
    {
        int lo = 0, hi = _start.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_start[mid] <= index) lo = mid; else hi = mid - 1;
        }
        uint into = index - _start[lo];
        return (_first[lo] + into, _count[lo] - into);
    }

    /// <summary>Runs in file order as (first cluster, count).</summary>
    public IEnumerable<(uint First, uint Count)> All()
    {
        for (int i = 0; i < _first.Count; i++) yield return (_first[i], _count[i]);
    }
}
