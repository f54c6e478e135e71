using MountChain.Core.BlockDevices;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Mapping;

namespace MountChain.Core.Chain;

/// <summary>
/// An opened chain: links[0] is the base, links[^1] the file that was opened (format doc §6.2).
/// Generation k is links[0..k]. Every link is opened read-only and validated (CID, capacity,
/// cycles, depth) before any data is read.
/// </summary>
public sealed class VmdkChain : IDisposable
{
    private readonly Link[] _links;

    private VmdkChain(Link[] links, IReadOnlyList<string> warnings)
    {
        _links = links;
        Warnings = warnings;
    }

    /// <summary>Base first, the opened link last.</summary>
    public IReadOnlyList<Link> Links => _links;

    /// <summary>Index of the opened link = the highest generation.</summary>
    public int TopGeneration => _links.Length - 1;

    public long CapacitySectors => _links[0].CapacitySectors;

    /// <summary>Chain-level warnings (CID override, uncheckable CIDs).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Opens <paramref name="path"/> and all its parents (or only it, with SingleLink).</summary>
    public static VmdkChain Open(string path, ChainOpenOptions? options = null)
    {
        options ??= ChainOpenOptions.Default;
        var links = new List<Link>();
        var warnings = new List<string>();
        try
        {
            var top = LinkOpener.Open(path);
            links.Add(top);
            var visited = new HashSet<string> { PathInspection.Canonical(path) };
            var directories = new List<string> { Path.GetDirectoryName(Path.GetFullPath(path))! };
            var resolver = new ParentResolver(options);
            var current = top;
            while (current.HasParent && !options.SingleLink)
            {
                if (links.Count >= options.MaxDepth)
                    throw new ChainMismatchException(path, $"chain is deeper than {options.MaxDepth} links (cycle or absurd depth)");
                var (parent, warning, canonical) = resolver.OpenParent(current, directories, visited);
                links.Add(parent);
                if (warning is not null) warnings.Add($"{current.Path}: {warning}");
                visited.Add(canonical);
                string dir = Path.GetDirectoryName(Path.GetFullPath(parent.Path))!;
                if (!directories.Contains(dir)) directories.Add(dir);
                current = parent;
            }
            links.Reverse();
            // format doc §10.2 item 9: VMware never mixes the two ESXi delta formats in one hierarchy.
            bool cowd = links.Any(l => l.Extents.Any(e => e is Formats.Cowd.CowdExtent));
            bool seSparse = links.Any(l => l.Extents.Any(e => e is Formats.SeSparse.SeSparseExtent));
            if (cowd && seSparse)
                warnings.Add($"{path}: the chain mixes vmfsSparse (COWD) and SESparse deltas, which VMware never creates in one hierarchy");
            return new VmdkChain(links.ToArray(), warnings);
        }
        catch
        {
            foreach (var l in links) l.Dispose();
            throw;
        }
    }

    /// <summary>True when generation <paramref name="generation"/> exists: the one range rule, 0 ≤ g ≤ <see cref="TopGeneration"/>.</summary>
    public bool HasGeneration(int generation) => generation >= 0 && generation <= TopGeneration;

    /// <summary>Throws when <paramref name="generation"/> does not exist (a caller's bug; commands check <see cref="HasGeneration"/> and report a usage error).</summary>
    public void RequireGeneration(int generation)
    {
        if (!HasGeneration(generation))
            throw new ArgumentOutOfRangeException(nameof(generation), $"generation {generation} is not in 0..{TopGeneration}");
    }

    /// <summary>A read-only device presenting generation <paramref name="generation"/> (0 = base).</summary>
    public GenerationDevice OpenGeneration(int generation) => OpenGeneration(generation, null);

    /// <summary>As <see cref="OpenGeneration(int)"/> with the grain map tuned (tests, benchmarks).</summary>
    internal GenerationDevice OpenGeneration(int generation, GrainMapOptions? mapOptions)
    {
        RequireGeneration(generation);
        return new GenerationDevice(new GrainMap(_links.AsSpan(0, generation + 1).ToArray(), mapOptions ?? GrainMapOptions.Default));
    }

    public void Dispose()
    {
        foreach (var l in _links) l.Dispose();
    }
}
