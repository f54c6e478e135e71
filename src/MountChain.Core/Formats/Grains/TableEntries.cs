using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MountChain.Core.Formats.Grains;

/// <summary>Reads <paramref name="buffer"/>.Length bytes of a table's file at <paramref name="offset"/>.</summary>
internal delegate void ReadAt(Span<byte> buffer, long offset);

/// <summary>Writes <paramref name="data"/> into a table's file at <paramref name="offset"/>.</summary>
internal delegate void WriteAt(ReadOnlySpan<byte> data, long offset);

/// <summary>
/// The on-disk form of grain directories and grain tables: arrays of little-endian unsigned
/// entries (u32 in hosted sparse and COWD, u64 in seSparse; format doc §2.4, §4.2, §5.3).
/// Byte order is handled here and nowhere else.
/// </summary>
internal static class TableEntries
{
    /// <summary>Reads <paramref name="entries"/>.Length entries at byte <paramref name="offset"/> into host order.</summary>
    public static void Read<T>(ReadAt read, Span<T> entries, long offset) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        read(MemoryMarshal.AsBytes(entries), offset);
        SwapIfBigEndian(entries);
    }

    /// <summary>
    /// Reads whole tables into <paramref name="all"/> (table t at <c>t · entriesPerTable</c>);
    /// <paramref name="offsetOf"/> gives a table's byte offset, or -1 to leave it zero. Tables that
    /// follow each other on disk are read in one call of at most 1 MiB.
    /// </summary>
    public static void ReadTables<T>(ReadAt read, int tables, int entriesPerTable, Func<int, long> offsetOf, Span<T> all)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int tableBytes = entriesPerTable * Unsafe.SizeOf<T>();
        int maxRun = Math.Max(1, (1 << 20) / tableBytes);
        int t = 0;
        while (t < tables)
        {
            long first = offsetOf(t);
            if (first < 0) { t++; continue; }
            int run = 1;
            while (t + run < tables && run < maxRun && offsetOf(t + run) == first + (long)run * tableBytes) run++;
            read(MemoryMarshal.AsBytes(all.Slice(t * entriesPerTable, run * entriesPerTable)), first);
            t += run;
        }
        SwapIfBigEndian(all[..(tables * entriesPerTable)]);
    }

    /// <summary>Encodes <paramref name="entries"/> into <paramref name="bytes"/> (little-endian, same length in bytes).</summary>
    public static void Encode<T>(ReadOnlySpan<T> entries, Span<byte> bytes) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        var target = MemoryMarshal.Cast<byte, T>(bytes);
        entries.CopyTo(target);
        SwapIfBigEndian(target);
    }

    /// <summary>Writes <paramref name="entries"/> (host order) little-endian at byte <paramref name="offset"/>.</summary>
    public static void Write<T>(WriteAt write, ReadOnlySpan<T> entries, long offset) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        var bytes = new byte[entries.Length * Unsafe.SizeOf<T>()];
        Encode(entries, bytes);
        write(bytes, offset);
    }

    private static void SwapIfBigEndian<T>(Span<T> entries) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (BitConverter.IsLittleEndian) return;
        if (typeof(T) == typeof(uint))
        {
            var s = MemoryMarshal.Cast<T, uint>(entries);
            BinaryPrimitives.ReverseEndianness(s, s);
        }
        else if (typeof(T) == typeof(ulong))
        {
            var s = MemoryMarshal.Cast<T, ulong>(entries);
            BinaryPrimitives.ReverseEndianness(s, s);
        }
        else throw new NotSupportedException($"table entries of {typeof(T).Name}");
    }
}
