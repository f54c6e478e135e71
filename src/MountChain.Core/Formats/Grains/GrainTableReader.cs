using System.Buffers;
using System.Numerics;

namespace MountChain.Core.Formats.Grains;

/// <summary>
/// Maps an extent's sectors to pieces through its grain directory and tables, loading each table on
/// demand (format doc §2.5 address translation): memory is one cached table plus one pooled buffer
/// per call, whatever the capacity. Thread-safe: reads are positional, the cache is swapped atomically.
/// </summary>
internal sealed class GrainTableReader<T>(IGrainTableFormat<T> format, ReadAt read) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    private sealed record CachedTable(long Index, T[] Entries);

    private CachedTable? _last;

    /// <summary>The checked, normalised entries of table <paramref name="index"/>; null when the directory has none.</summary>
    public T[]? Table(long index)
    {
        var cached = _last;
        if (cached is not null && cached.Index == index) return cached.Entries;
        long offset = format.TableOffset(index);
        if (offset == 0) return null;
        var table = new T[format.EntriesPerTable];
        Load(index, offset, table);
        _last = new CachedTable(index, table);
        return table;
    }

    /// <summary>
    /// Reads and checks table <paramref name="index"/> into <paramref name="into"/> (EntriesPerTable
    /// long) without touching the cache, for whole-file passes; false when the directory has none.
    /// </summary>
    public bool TryRead(long index, Span<T> into)
    {
        long offset = format.TableOffset(index);
        if (offset == 0) return false;
        Load(index, offset, into);
        return true;
    }

    private void Load(long index, long offset, Span<T> table)
    {
        TableEntries.Read(read, table, offset);
        format.CheckTable(index, table);
    }

    /// <summary>Appends pieces that exactly cover [start, start+count) of the extent, in order.</summary>
    public void Map(long start, long count, List<ExtentPiece> output)
    {
        long end = start + count;
        long pos = start;
        int entries = format.EntriesPerTable;
        long coverage = entries * format.GrainSectors;
        while (pos < end)
        {
            long index = pos / coverage;
            long tableEnd = Math.Min(end, (index + 1) * coverage);
            long offset = format.TableOffset(index);
            if (offset == 0)
            {
                ExtentPieces.Append(output, new ExtentPiece(pos, tableEnd - pos, PieceKind.Unallocated));
                pos = tableEnd;
                continue;
            }
            var cached = _last;
            if (cached is not null && cached.Index == index)
            {
                pos = MapTable(cached.Entries, index, pos, tableEnd, output);
                continue;
            }
            // Mapping reads each table once per region build: a pooled buffer instead of a new
            // array per table keeps a cold pass over a deep chain from allocating megabytes.
            T[] rented = ArrayPool<T>.Shared.Rent(entries);
            try
            {
                var table = rented.AsSpan(0, entries);
                Load(index, offset, table);
                pos = MapTable(table, index, pos, tableEnd, output);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Appends the pieces of [pos, tableEnd) described by table <paramref name="index"/>; returns tableEnd.</summary>
    private long MapTable(ReadOnlySpan<T> table, long index, long pos, long tableEnd, List<ExtentPiece> output)
    {
        long grainSectors = format.GrainSectors;
        bool compressed = format.GrainsCompressed;
        T step = T.CreateTruncating(grainSectors);
        long firstGrain = index * table.Length;
        int lastIndex = (int)((tableEnd - 1) / grainSectors - firstGrain);
        while (pos < tableEnd)
        {
            long grain = pos / grainSectors;
            int i = (int)(grain - firstGrain);
            long grainStart = grain * grainSectors;
            T e = table[i];
            // Take the following grains that resolve the same way in one step (what Append would
            // merge anyway); compressed grains stand alone.
            int run = compressed && e > T.One ? 1 : GrainRuns.Contiguous(table[i..(lastIndex + 1)], step);
            long pieceEnd = Math.Min(tableEnd, (grain + run) * grainSectors);
            long at = long.CreateTruncating(e) << Sector.Shift;
            ExtentPiece piece = e switch
            {
                _ when e == T.Zero => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Unallocated),
                _ when e == T.One => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Zero),
                _ when compressed => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Compressed, at, grainStart),
                _ => new ExtentPiece(pos, pieceEnd - pos, PieceKind.Data, at + ((pos - grainStart) << Sector.Shift)),
            };
            ExtentPieces.Append(output, piece);
            pos = pieceEnd;
        }
        return pos;
    }
}
