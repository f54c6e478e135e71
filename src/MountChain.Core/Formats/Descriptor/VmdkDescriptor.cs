namespace MountChain.Core.Formats.Descriptor;

/// <summary>
/// A parsed descriptor (format doc §1): header keys, extent lines and the disk database. Keys are
/// compared case-insensitively; values keep their spelling.
/// </summary>
public sealed class VmdkDescriptor
{
    /// <summary>Parent CID value of a base disk (format doc §1.6).</summary>
    public const uint NoParentCid = 0xFFFFFFFF;

    /// <summary>CID value ESXi writes when it does not maintain CIDs; the check cannot be made (§1.6).</summary>
    public const uint UncheckableCid = 0xFFFFFFFE;

    public required int Version { get; init; }
    public required uint Cid { get; init; }
    public required uint ParentCid { get; init; }
    public required string CreateType { get; init; }
    public string? ParentFileNameHint { get; init; }
    public string Encoding { get; init; } = "UTF-8";
    public required IReadOnlyList<DescriptorExtent> Extents { get; init; }

    /// <summary>Every header key (version, CID, …) with its unquoted value.</summary>
    public required IReadOnlyDictionary<string, string> Header { get; init; }

    /// <summary>The ddb.* keys (with the prefix) and their unquoted values.</summary>
    public required IReadOnlyDictionary<string, string> Ddb { get; init; }

    public bool HasParent => ParentCid != NoParentCid;

    /// <summary>Total capacity in sectors: the sum of the extent lengths (never CHS, §1.5).</summary>
    public long CapacitySectors => Extents.Sum(e => e.Sectors);
}
