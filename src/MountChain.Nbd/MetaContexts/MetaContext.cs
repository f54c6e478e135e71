namespace MountChain.Nbd.MetaContexts;

/// <summary>
/// The metadata contexts this server offers for NBD_CMD_BLOCK_STATUS (proto.md "Metadata querying").
/// The numeric value is the context id sent in NBD_REP_META_CONTEXT and in each status chunk.
/// </summary>
/// <remarks>
/// <para><c>base:allocation</c> (proto.md "base:allocation metadata context"), from
/// <see cref="Core.BlockDevices.IBlockDevice.GetExtents"/>: Unallocated → HOLE|ZERO (3);
/// Zero → ZERO (2), or HOLE|ZERO when the zeros come from a generation below the top;
/// Data → 0.</para>
/// <para><c>mountchain:generation</c> (ours): which link of the chain serves each range.
/// Status value = generation index + 1 (1 = base, 2 = first snapshot, …); 0 = no link holds the
/// range (it reads as zeros). <c>nbdinfo --map=mountchain:generation</c> prints these numbers.</para>
/// </remarks>
internal enum MetaContext : uint
{
    BaseAllocation = 1,
    Generation = 2,
}

/// <summary>Names and query matching of <see cref="MetaContext"/> (proto.md "NBD_OPT_LIST_META_CONTEXT", "NBD_OPT_SET_META_CONTEXT").</summary>
internal static class MetaContextNames
{
    public const string BaseAllocation = "base:allocation";
    public const string Generation = "mountchain:generation";

    public static readonly IReadOnlyList<MetaContext> All = [MetaContext.BaseAllocation, MetaContext.Generation];

    public static string NameOf(MetaContext context) => context switch
    {
        MetaContext.BaseAllocation => BaseAllocation,
        MetaContext.Generation => Generation,
        _ => throw new ArgumentOutOfRangeException(nameof(context)),
    };

    /// <summary>The contexts a query selects. For listing, "namespace:" is a wildcard over that namespace;
    /// for selection only exact names count. Unknown namespaces and leaves select nothing.</summary>
    public static IEnumerable<MetaContext> Match(string query, bool listing)
    {
        foreach (var context in All)
        {
            string name = NameOf(context);
            if (query == name) yield return context;
            else if (listing && query.EndsWith(':') && name.StartsWith(query, StringComparison.Ordinal)) yield return context;
        }
    }
}
