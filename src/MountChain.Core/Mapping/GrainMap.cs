using MountChain.Core.BlockDevices;
using MountChain.Core.Formats;

namespace MountChain.Core.Mapping;

/// <summary>
/// The flattened view of a generation (design.md rule 2): virtual sectors → runs served by one
/// link, zeros or nothing. Built lazily per region (32 MiB) by asking each link, top to base,
/// once for the still-unresolved parts; later reads are a lookup plus one positional read per run,
/// so read cost does not depend on chain depth.
///
/// Memory: ~64 bytes per run, bounded by <see cref="GrainMapOptions.RunBudget"/> (regions are
/// evicted with a clock and rebuilt on demand), plus 8 bytes per region slot (64 Ki slots for 2 TiB).
/// Concurrency: lock-free for readers; a region may be built twice by racing threads, the first
/// published copy wins. Links are immutable, so a built region never goes stale.
/// </summary>
internal sealed class GrainMap
{
    private readonly IMapLayer[] _links;
    private readonly MapRegion?[] _regions;
    private readonly GrainMapOptions _options;
    private readonly long _regionSectors;
    private long _cachedRuns;
    private int _clockHand;
    private readonly Lock _evictLock = new();

    public GrainMap(IMapLayer[] links, GrainMapOptions options)
    {
        if (links.Length == 0) throw new ArgumentException("a generation needs at least one link", nameof(links));
        _links = links;
        _options = options;
        _regionSectors = 1L << options.RegionShift;
        CapacitySectors = links[^1].CapacitySectors;
        _regions = new MapRegion?[(CapacitySectors + _regionSectors - 1) >> options.RegionShift];
    }

    public long CapacitySectors { get; }
    /// <summary>The layers, base first.</summary>
    public IReadOnlyList<IMapLayer> Links => _links;
    public long RegionSectors => _regionSectors;

    /// <summary>Runs currently cached (for tests and `info`).</summary>
    public long CachedRuns => Interlocked.Read(ref _cachedRuns);

    /// <summary>The region containing <paramref name="sector"/>, built if needed.</summary>
    public MapRegion RegionAt(long sector)
    {
        long index = sector >> _options.RegionShift;
        var region = Volatile.Read(ref _regions[index]);
        if (region is not null)
        {
            // Write only when clear: an unconditional store from every reader thread would bounce
            // the region's cache line between cores on each read.
            if (!region.Referenced) region.Referenced = true;
            return region;
        }
        var built = Build(index);
        var winner = Interlocked.CompareExchange(ref _regions[index], built, null);
        if (winner is not null) return winner;
        if (Interlocked.Add(ref _cachedRuns, built.Runs.Length) > _options.RunBudget) Evict(index);
        return built;
    }

    /// <summary>Drops regions (second-chance clock) until the cache is back under budget.</summary>
    private void Evict(long keep)
    {
        lock (_evictLock)
        {
            long target = _options.RunBudget * 3L / 4;
            for (int scanned = 0; Interlocked.Read(ref _cachedRuns) > target && scanned < 2 * _regions.Length; scanned++)
            {
                int i = _clockHand;
                _clockHand = (_clockHand + 1) % _regions.Length;
                var r = Volatile.Read(ref _regions[i]);
                if (r is null || i == keep) continue;
                if (r.Referenced) { r.Referenced = false; continue; }
                if (Interlocked.CompareExchange(ref _regions[i], null, r) == r)
                    Interlocked.Add(ref _cachedRuns, -r.Runs.Length);
            }
        }
    }

    /// <summary>Walks the chain top → base once for region <paramref name="index"/>.</summary>
    private MapRegion Build(long index)
    {
        long start = index << _options.RegionShift;
        long end = Math.Min(CapacitySectors, start + _regionSectors);
        var unresolved = new List<(long Start, long End)> { (start, end) };
        var next = new List<(long Start, long End)>();
        var resolved = new List<MapRun>();
        var pieces = new List<LinkPiece>();
        var scratch = new List<ExtentPiece>();

        for (int g = _links.Length - 1; g >= 0 && unresolved.Count > 0; g--)
        {
            pieces.Clear();
            long from = unresolved[0].Start, to = unresolved[^1].End;
            _links[g].Map(from, to - from, pieces, scratch);
            next.Clear();
            int p = 0;
            foreach (var (uStart, uEnd) in unresolved)
            {
                while (pieces[p].Start + pieces[p].Count <= uStart) p++;
                long pos = uStart;
                while (pos < uEnd)
                {
                    var piece = pieces[p];
                    long pieceEnd = piece.Start + piece.Count;
                    long segEnd = Math.Min(uEnd, pieceEnd);
                    if (piece.Kind == PieceKind.Unallocated)
                    {
                        if (next.Count > 0 && next[^1].End == pos) next[^1] = (next[^1].Start, segEnd);
                        else next.Add((pos, segEnd));
                    }
                    else
                    {
                        long skip = pos - piece.Start;
                        long fileOffset = piece.Kind == PieceKind.Data ? piece.FileOffset + skip * Sector.Size : piece.FileOffset;
                        resolved.Add(new MapRun(pos, segEnd - pos, piece.Kind, g, piece.Extent, fileOffset, piece.GrainStart, piece.ExtentStart));
                    }
                    pos = segEnd;
                    if (segEnd == pieceEnd) p++;
                }
            }
            (unresolved, next) = (next, unresolved);
        }
        foreach (var (uStart, uEnd) in unresolved)
            resolved.Add(new MapRun(uStart, uEnd - uStart, PieceKind.Unallocated, -1, null, 0, 0, 0));

        resolved.Sort((a, b) => a.Start.CompareTo(b.Start));
        return new MapRegion(Merge(resolved));
    }

    /// <summary>Joins neighbours served the same way (same link, contiguous file bytes).</summary>
    private static MapRun[] Merge(List<MapRun> runs)
    {
        var merged = new List<MapRun>(runs.Count);
        foreach (var r in runs)
        {
            if (merged.Count > 0)
            {
                var last = merged[^1];
                bool joinable = last.Kind == r.Kind && last.Generation == r.Generation && last.End == r.Start && r.Kind switch
                {
                    PieceKind.Data => ReferenceEquals(last.Extent, r.Extent) && last.FileOffset + last.Count * Sector.Size == r.FileOffset,
                    PieceKind.Compressed => false,
                    _ => true,
                };
                if (joinable)
                {
                    merged[^1] = new MapRun(last.Start, last.Count + r.Count, last.Kind, last.Generation, last.Extent, last.FileOffset, last.GrainStart, last.ExtentStart);
                    continue;
                }
            }
            merged.Add(r);
        }
        return merged.ToArray();
    }

    /// <summary>Reads bytes [offset, offset+buffer.Length) of the generation.</summary>
    public void Read(Span<byte> buffer, long offset)
    {
        while (!buffer.IsEmpty)
        {
            long sector = offset >> Sector.Shift;
            var region = RegionAt(sector);
            var runs = region.Runs;
            int i = region.Find(sector);
            while (!buffer.IsEmpty && i < runs.Length)
            {
                ref readonly var run = ref runs[i];
                long runStartByte = run.Start << Sector.Shift;
                long runEndByte = run.End << Sector.Shift;
                int n = (int)Math.Min(buffer.Length, runEndByte - offset);
                var dest = buffer[..n];
                switch (run.Kind)
                {
                    case PieceKind.Data:
                        run.Extent!.ReadData(dest, run.FileOffset + (offset - runStartByte));
                        break;
                    case PieceKind.Compressed:
                        long grainVirtualByte = (run.ExtentStart + run.GrainStart) << Sector.Shift;
                        run.Extent!.ReadCompressed(dest, run.FileOffset, run.GrainStart, offset - grainVirtualByte);
                        break;
                    default:
                        dest.Clear();
                        break;
                }
                buffer = buffer[n..];
                offset += n;
                i++;
            }
        }
    }

    /// <summary>
    /// The file ranges behind bytes [offset, offset+length) (see <see cref="IFileRangeSource"/>): the
    /// same walk as <see cref="Read"/>, naming each piece's file instead of reading it. False when a
    /// piece is compressed or its extent has no handle.
    /// </summary>
    public bool TryDescribe(long offset, int length, List<FileRange> output)
    {
        long end = offset + length;
        while (offset < end)
        {
            long sector = offset >> Sector.Shift;
            var region = RegionAt(sector);
            var runs = region.Runs;
            int i = region.Find(sector);
            while (offset < end && i < runs.Length)
            {
                ref readonly var run = ref runs[i];
                long runStartByte = run.Start << Sector.Shift;
                int n = (int)Math.Min(end - offset, (run.End << Sector.Shift) - offset);
                switch (run.Kind)
                {
                    case PieceKind.Data:
                        if (run.Extent!.Handle is not { } handle) return false;
                        FileRanges.Append(output, new FileRange(handle, run.FileOffset + (offset - runStartByte), n));
                        break;
                    case PieceKind.Compressed:
                        return false;
                    default:
                        FileRanges.Append(output, new FileRange(null, 0, n));
                        break;
                }
                offset += n;
                i++;
            }
        }
        return true;
    }

    /// <summary>Visits the runs overlapping [startSector, endSector), clipped to it.</summary>
    public void VisitRuns(long startSector, long endSector, Action<MapRun> visit)
    {
        long pos = startSector;
        while (pos < endSector)
        {
            var region = RegionAt(pos);
            var runs = region.Runs;
            for (int i = region.Find(pos); i < runs.Length && pos < endSector; i++)
            {
                var r = runs[i];
                long s = Math.Max(r.Start, pos), e = Math.Min(r.End, endSector);
                long skip = s - r.Start;
                visit(new MapRun(s, e - s, r.Kind, r.Generation, r.Extent,
                    r.Kind == PieceKind.Data ? r.FileOffset + skip * Sector.Size : r.FileOffset, r.GrainStart, r.ExtentStart));
                pos = e;
            }
        }
    }
}
