namespace MountChain.FileSystems.Volumes;

/// <summary>Which kind of table a partition came from.</summary>
public enum PartitionScheme : byte { None, Mbr, Gpt }

/// <summary>
/// One partition of a disk. <see cref="Name"/> is "pK": for GPT K is the entry index + 1, for MBR
/// primaries 1–4 by slot and logicals 5.. in chain order (as Linux numbers them); "p0" is a disk
/// without a partition table.
/// </summary>
public sealed record Partition
{
    public required int Number { get; init; }
    public string Name => $"p{Number}";
    public required PartitionScheme Scheme { get; init; }
    /// <summary>Byte offset of the first byte on the disk.</summary>
    public required long Offset { get; init; }
    public required long Length { get; init; }
    /// <summary>MBR type byte as "0x07", or the GPT type GUID.</summary>
    public string TypeId { get; init; } = "";
    /// <summary>GPT partition name, or empty.</summary>
    public string PartitionLabel { get; init; } = "";
    /// <summary>An MBR extended partition: a container of logical partitions, not a volume.</summary>
    public bool IsExtendedContainer { get; init; }
}

/// <summary>The partitions of a disk in table order, and the table kind they came from.</summary>
internal sealed record PartitionTable(PartitionScheme Scheme, IReadOnlyList<Partition> Partitions, IReadOnlyList<string> Warnings);

/// <summary>A partition table is damaged beyond use; the message names the structure.</summary>
public sealed class PartitionTableException(string message) : IOException(message);
