using System.Numerics;

namespace MountChain.Core.Formats.Grains;

/// <summary>
/// The format-specific half of a grain-table reader: where each table lies and what its entries
/// mean. <see cref="GrainTableReader{T}"/> does the rest (table I/O and byte order, a one-table
/// cache, pooled buffers for mapping, run merging).
///
/// Extension point. Hosted sparse implements it with u32 entries (format doc §2.5). A seSparse
/// reader (u64 entries, 8-sector grains, 4096 entries per table, §5.3) or a COWD reader (u32
/// entries, 1-sector grains, 4096 entries, §4.2) implements the same members: it resolves its own
/// directory in <see cref="TableOffset"/> and, in <see cref="CheckTable"/>, refuses bad entries
/// and rewrites each entry in place into the normalised form every scan here relies on:
/// 0 = unallocated (the link below answers), 1 = zeroed (reads zeros), otherwise the file sector
/// where the grain (or, when <see cref="GrainsCompressed"/>, its marker) begins.
/// </summary>
internal interface IGrainTableFormat<T> where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    /// <summary>The file the tables are in (for messages).</summary>
    string FilePath { get; }

    /// <summary>Sectors of the extent's address space.</summary>
    long Sectors { get; }

    long GrainSectors { get; }

    int EntriesPerTable { get; }

    /// <summary>Data entries point at compressed grains: never merged with the next grain.</summary>
    bool GrainsCompressed { get; }

    /// <summary>Byte offset of table <paramref name="table"/> in the file, or 0 when the directory holds none (every grain unallocated).</summary>
    long TableOffset(long table);

    /// <summary>Checks a table just read (host byte order) and normalises its entries in place; throws an input error naming file, table and entry.</summary>
    void CheckTable(long table, Span<T> entries);
}
