using MountChain.Core.Chain;

namespace MountChain.Core.Inspection;

/// <summary>
/// The disk database (`ddb.*`, format doc §1.5) a generation presents: each key from the link
/// nearest the top that has it — TN50's rule, since children usually carry only longContentID
/// and the adapter, geometry, uuid and hardware version live in the base (ESXi's deltas likewise).
/// </summary>
internal static class DiskDatabase
{
    /// <summary>Effective keys (without the "ddb." prefix), sorted; <paramref name="linksBaseFirst"/> as in <see cref="VmdkChain.Links"/>.</summary>
    public static Dictionary<string, string> Effective(IReadOnlyList<Link> linksBaseFirst)
    {
        var found = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = linksBaseFirst.Count - 1; i >= 0; i--)
            foreach (var (key, value) in linksBaseFirst[i].Descriptor.Ddb)
                found.TryAdd(key.StartsWith("ddb.", StringComparison.OrdinalIgnoreCase) ? key[4..] : key, value);
        return new Dictionary<string, string>(found, StringComparer.OrdinalIgnoreCase);
    }
}
