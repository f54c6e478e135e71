namespace MountChain.Tests.Infrastructure;

/// <summary>How the base of a chain is made (qemu-img subformat names).</summary>
public enum BaseFormat { MonolithicSparse, TwoGbMaxExtentSparse, StreamOptimized, MonolithicFlat }

/// <summary>Where written bytes come from: qemu-io -P patterns, or files of seeded random bytes (qemu-io -s).</summary>
public enum DataKind { Pattern, Random }

/// <summary>One explicit write: into generation <paramref name="Generation"/> (0 = base); Zero = `write -z`.</summary>
public readonly record struct WriteOp(int Generation, long Offset, long Length, bool Zero = false);

/// <summary>
/// Everything that determines a test chain. Same spec → same bytes (the PRNG is seeded per
/// generation from <see cref="Seed"/>), so a spec can name a cached fixture.
/// </summary>
public sealed record ChainSpec
{
    public BaseFormat Base { get; init; } = BaseFormat.MonolithicSparse;
    /// <summary>Children on top of the base (0 = base only).</summary>
    public int Depth { get; init; } = 3;
    /// <summary>Virtual size in bytes (a multiple of 512).</summary>
    public long Size { get; init; } = 8 << 20;
    /// <summary>Share of the base written, in whole <see cref="FillUnit"/>s chosen by the PRNG.</summary>
    public int BaseFillPercent { get; init; } = 50;
    public long FillUnit { get; init; } = 64 << 10;
    /// <summary>Per-child writes as COUNTxSIZE items, e.g. "8x64K,2x300K,3x1536".</summary>
    public string ChildWrites { get; init; } = "8x64K,2x300K";
    /// <summary>Alignment of child write offsets in bytes (512 … 1 MiB).</summary>
    public long Alignment { get; init; } = 4096;
    public DataKind Data { get; init; } = DataKind.Pattern;
    public int Seed { get; init; } = 1;
    /// <summary>Create every link with zeroed_grain=on (version 2, flags 0x7), so `write -z` makes GTE=1.</summary>
    public bool ZeroedGrain { get; init; }
    /// <summary>
    /// Build children without letting qemu open the chain below (create -u, write through
    /// backing=null): O(1) per link, for very deep chains. Partial-grain writes then COW zeros.
    /// </summary>
    public bool IsolatedChildren { get; init; }
    /// <summary>Writes done in addition to the PRNG ones (after them, in order).</summary>
    public IReadOnlyList<WriteOp> ExtraWrites { get; init; } = [];

    public override string ToString() =>
        $"{Base} depth {Depth} size {Size} fill {BaseFillPercent}% writes {ChildWrites} align {Alignment} {Data} seed {Seed}" +
        (ZeroedGrain ? " zeroed-grain" : "") + (IsolatedChildren ? " isolated" : "") + (ExtraWrites.Count > 0 ? $" +{ExtraWrites.Count} writes" : "");

    /// <summary>Parses "8x64K,2x1M,3x1536" into (count, bytes) pairs.</summary>
    public static IEnumerable<(int Count, long Bytes)> ParseWrites(string spec)
    {
        foreach (var item in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = item.Split('x', 'X');
            yield return (int.Parse(parts[0]), ParseBytes(parts[1]));
        }
    }

    public static long ParseBytes(string s)
    {
        char unit = char.ToUpperInvariant(s[^1]);
        long mul = unit switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
        return long.Parse(mul == 1 ? s : s[..^1]) * mul;
    }
}
