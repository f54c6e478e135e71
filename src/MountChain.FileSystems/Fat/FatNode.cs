namespace MountChain.FileSystems.Fat;

/// <summary>
/// Reader-private handle of a FAT or exFAT entry (<see cref="Common.FsEntry.Native"/>): where its
/// data starts, how long it is, and the directories it was reached through (to refuse a
/// directory that contains one of its ancestors). The cluster runs are resolved once, on first use.
/// </summary>
internal sealed class FatNode
{
    public required uint FirstCluster { get; init; }
    /// <summary>Bytes of content (exFAT: DataLength; FAT directories: 0).</summary>
    public required long Length { get; init; }
    /// <summary>exFAT ValidDataLength: bytes past it read as zeros. FAT: <see cref="Length"/>.</summary>
    public required long ValidLength { get; init; }
    public required bool IsDirectory { get; init; }
    /// <summary>exFAT NoFatChain: the clusters are consecutive and the FAT is not consulted.</summary>
    public bool Contiguous { get; init; }
    public FatNode? Parent { get; init; }
    public bool IsRoot => Parent == null;

    /// <summary>Set once by the reader; a benign race computes the same runs twice.</summary>
    public ClusterRuns? Runs { get; set; }

    /// <summary>True when <paramref name="cluster"/> starts this directory or one it was reached through.</summary>
    public bool IsSelfOrAncestor(uint cluster)
    {
        for (var n = this; n != null; n = n.Parent)
            if (n.FirstCluster == cluster) return true;
        return false;
    }
}
