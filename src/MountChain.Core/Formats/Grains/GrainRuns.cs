using System.Numerics;

namespace MountChain.Core.Formats.Grains;

/// <summary>
/// Scans of normalised grain-table entries (0 = unallocated, 1 = zeroed, otherwise the file sector
/// of the grain; see <see cref="IGrainTableFormat{T}"/>): how far the grains after the first are
/// served the same way, so readers and writers do one large I/O per run instead of one per grain
/// (design.md rule 2).
/// </summary>
internal static class GrainRuns
{
    /// <summary>
    /// Number of entries, from <paramref name="entries"/>[0] on, that continue the first one: the same
    /// marker (0 or 1), or data grains that follow each other in the file (first + k·<paramref name="step"/>).
    /// 1 for a single entry; 0 for an empty span.
    /// </summary>
    public static int Contiguous<T>(ReadOnlySpan<T> entries, T step) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (entries.IsEmpty) return 0;
        T first = entries[0];
        if (first <= T.One) return SameMarker(entries);
        int n = 1;
        T want = first + step;
        while (n < entries.Length && entries[n] == want)
        {
            n++;
            want += step;
        }
        return n;
    }

    /// <summary>Like <see cref="Contiguous{T}"/> but data grains need not be adjacent in the file (allocation reports).</summary>
    public static int SameKind<T>(ReadOnlySpan<T> entries) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        if (entries.IsEmpty) return 0;
        if (entries[0] <= T.One) return SameMarker(entries);
        int n = 1;
        while (n < entries.Length && entries[n] > T.One) n++;
        return n;
    }

    /// <summary>Number of leading entries that hold no data (0 or 1, mixed).</summary>
    public static int WithoutData<T>(ReadOnlySpan<T> entries) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int n = 0;
        while (n < entries.Length && entries[n] <= T.One) n++;
        return n;
    }

    /// <summary>Entries equal to the first (a vectorised scan).</summary>
    private static int SameMarker<T>(ReadOnlySpan<T> entries) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int k = entries[1..].IndexOfAnyExcept(entries[0]);
        return k < 0 ? entries.Length : k + 1;
    }

    /// <summary>
    /// In <paramref name="sorted"/> grain positions (ascending), the first one that starts less than
    /// <paramref name="span"/> sectors after the one before it (two grains sharing file sectors,
    /// format doc §10.2 item 3), or -1.
    /// </summary>
    public static int FirstOverlap<T>(ReadOnlySpan<T> sorted, long span) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        for (int i = 1; i < sorted.Length; i++)
            if (long.CreateTruncating(sorted[i]) - long.CreateTruncating(sorted[i - 1]) < span) return i;
        return -1;
    }

    /// <summary>
    /// The file sector where two data grains of one normalised table share sectors (each grain
    /// taking <paramref name="span"/> sectors; format doc §10.2 item 3), or null. Markers (0, 1) are skipped.
    /// </summary>
    public static T? OverlapInTable<T>(ReadOnlySpan<T> table, long span) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        int allocated = 0;
        foreach (T e in table) if (e > T.One) allocated++;
        if (allocated < 2) return null;
        T[] sorted = System.Buffers.ArrayPool<T>.Shared.Rent(allocated);
        try
        {
            int n = 0;
            foreach (T e in table) if (e > T.One) sorted[n++] = e;
            var used = sorted.AsSpan(0, n);
            used.Sort();
            int at = FirstOverlap<T>(used, span);
            return at < 0 ? null : used[at];
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(sorted);
        }
    }
}
