namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// A base MFT record together with the attributes of its extension records (gathered through
/// $ATTRIBUTE_LIST), non-resident fragments merged. Immutable, shared through the record cache.
/// </summary>
internal sealed class NtfsFile
{
    public required long Number { get; init; }
    public required bool IsDirectory { get; init; }
    public required ushort SequenceNumber { get; init; }
    public required ushort LinkCount { get; init; }
    public required IReadOnlyList<NtfsAttribute> Attributes { get; init; }

    public NtfsAttribute? Find(uint type, string name = "")
    {
        foreach (var a in Attributes)
            if (a.Type == type && a.Name == name) return a;
        return null;
    }

    public IEnumerable<NtfsAttribute> All(uint type)
    {
        foreach (var a in Attributes)
            if (a.Type == type) yield return a;
    }
}
