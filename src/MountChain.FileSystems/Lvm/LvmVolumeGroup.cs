namespace MountChain.FileSystems.Lvm;

/// <summary>One stripe of a segment: a run of extents on a PV.</summary>
internal sealed record LvmStripe(string PvName, long StartExtent);

/// <summary>A segment of an LV: LV extents [StartExtent, +ExtentCount) striped over <see cref="Stripes"/> (one stripe = linear).</summary>
internal sealed record LvmSegment(long StartExtent, long ExtentCount, string Type, long StripeSizeSectors, IReadOnlyList<LvmStripe> Stripes);

/// <summary>A PV of the VG as the metadata describes it.</summary>
internal sealed record LvmPvInfo(string Name, string Uuid, long PeStartSectors, long PeCount);

/// <summary>
/// A logical volume. <see cref="Unsupported"/> says why it cannot be read (a snapshot, thin,
/// RAID/mirror, cache or other segment type), null for linear and striped LVs.
/// </summary>
internal sealed record LvmLogicalVolume(string Name, string Id, IReadOnlyList<LvmSegment> Segments, string? Unsupported)
{
    public long ExtentCount => Segments.Count == 0 ? 0 : Segments.Max(s => s.StartExtent + s.ExtentCount);
}

/// <summary>A volume group from its newest metadata text: extent size, PVs and the visible LVs.</summary>
internal sealed record LvmVolumeGroup(string Name, string Id, long Seqno, long ExtentSizeSectors, IReadOnlyList<LvmPvInfo> PhysicalVolumes, IReadOnlyList<LvmLogicalVolume> LogicalVolumes)
{
    private const long MaxExtents = 1L << 40;

    public long ExtentBytes => ExtentSizeSectors * 512;

    /// <summary>Builds the VG from parsed text; throws <see cref="LvmException"/> (naming the VG and field) on anything inconsistent.</summary>
    public static LvmVolumeGroup FromText(string text, string where)
    {
        LvmSection root;
        try { root = LvmConfigText.Parse(text); }
        catch (FormatException e) { throw new LvmException($"{where}: LVM2 metadata text: {e.Message}"); }
        var (name, vg) = root.Sections.FirstOrDefault();
        if (vg == null) throw new LvmException($"{where}: LVM2 metadata text names no volume group");
        string at = $"{where}: VG {name}";
        long extentSize = vg.Number("extent_size") ?? 0;
        if (extentSize <= 0 || extentSize > (1L << 32)) throw new LvmException($"{at}: extent_size {extentSize} is invalid");
        var pvs = new List<LvmPvInfo>();
        foreach (var (pvName, pv) in vg.Section("physical_volumes")?.Sections ?? [])
        {
            long peStart = pv.Number("pe_start") ?? -1, peCount = pv.Number("pe_count") ?? -1;
            if (peStart < 0 || peCount < 0 || peCount > MaxExtents) throw new LvmException($"{at}: PV {pvName}: pe_start {peStart} / pe_count {peCount} invalid");
            pvs.Add(new LvmPvInfo(pvName, (pv.String("id") ?? "").Replace("-", ""), peStart, peCount));
        }
        var lvSections = vg.Section("logical_volumes")?.Sections ?? [];
        // Snapshot COW stores and thin internals are named by other LVs' segments.
        var cowStores = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, lv) in lvSections)
            foreach (var (_, seg) in lv.Sections)
                if (seg.String("type") == "snapshot" && seg.String("cow_store") is { } cow) cowStores[cow] = seg.String("origin") ?? "?";
        var lvs = new List<LvmLogicalVolume>();
        foreach (var (lvName, lv) in lvSections)
        {
            var status = lv.Array("status").OfType<string>().ToHashSet(StringComparer.Ordinal);
            // "snapshotN" ties a COW store to its origin; the store LV is the one users name (lvs shows it).
            if (lv.Sections.Any(s => s.Section.String("type") == "snapshot")) continue;
            var segments = new List<LvmSegment>();
            string? unsupported = null;
            foreach (var (segName, seg) in lv.Sections.Where(s => s.Name.StartsWith("segment", StringComparison.Ordinal)))
            {
                string type = seg.String("type") ?? "";
                long start = seg.Number("start_extent") ?? -1, count = seg.Number("extent_count") ?? -1;
                if (start < 0 || count <= 0 || start > MaxExtents || count > MaxExtents) throw new LvmException($"{at}: LV {lvName} {segName}: extents {start}+{count} invalid");
                if (type is not ("striped" or "linear"))
                {
                    unsupported ??= type switch
                    {
                        "snapshot" => "a snapshot LV (copy-on-write over its origin) cannot be read",
                        "thin" or "thin-pool" => $"a {type} LV cannot be read (thin provisioning is not supported)",
                        _ => $"segment type '{type}' is not supported (only linear and striped LVs are read)",
                    };
                    continue;
                }
                segments.Add(ParseStriped(seg, start, count, $"{at}: LV {lvName} {segName}", pvs));
            }
            if (cowStores.TryGetValue(lvName, out var origin)) unsupported ??= $"a snapshot of {origin} (copy-on-write store) cannot be read";
            bool visible = status.Contains("VISIBLE");
            if (!visible && !cowStores.ContainsKey(lvName)) continue; // internal LVs (thin pool data, mirror images, snapshot0)
            Overlaps(segments, $"{at}: LV {lvName}");
            lvs.Add(new LvmLogicalVolume(lvName, lv.String("id") ?? "", segments, unsupported));
        }
        return new LvmVolumeGroup(name, (vg.String("id") ?? "").Replace("-", ""), vg.Number("seqno") ?? 0, extentSize, pvs, lvs);
    }

    private static LvmSegment ParseStriped(LvmSection seg, long start, long count, string at, List<LvmPvInfo> pvs)
    {
        long stripeCount = seg.Number("stripe_count") ?? 1;
        var list = seg.Array("stripes");
        if (stripeCount < 1 || stripeCount > 128 || list.Count != stripeCount * 2 || count % stripeCount != 0)
            throw new LvmException($"{at}: {stripeCount} stripes do not match the stripes list ({list.Count / 2}) or {count} extents");
        long stripeSize = stripeCount > 1 ? seg.Number("stripe_size") ?? 0 : 0;
        if (stripeCount > 1 && (stripeSize <= 0 || stripeSize > (1L << 32))) throw new LvmException($"{at}: stripe_size {stripeSize} is invalid");
        var stripes = new List<LvmStripe>();
        for (int i = 0; i < stripeCount; i++)
        {
            if (list[2 * i] is not string pv || list[2 * i + 1] is not long pe || pe < 0)
                throw new LvmException($"{at}: stripe {i} is not a (PV name, extent) pair");
            var info = pvs.FirstOrDefault(p => p.Name == pv) ?? throw new LvmException($"{at}: stripe {i} names unknown PV '{pv}'");
            if (pe + count / stripeCount > info.PeCount) throw new LvmException($"{at}: stripe {i} (extents {pe}+{count / stripeCount}) lies beyond the {info.PeCount} extents of {pv}");
            stripes.Add(new LvmStripe(pv, pe));
        }
        return new LvmSegment(start, count, "striped", stripeSize, stripes);
    }

    private static void Overlaps(List<LvmSegment> segments, string at)
    {
        segments.Sort((a, b) => a.StartExtent.CompareTo(b.StartExtent));
        for (int i = 1; i < segments.Count; i++)
            if (segments[i].StartExtent < segments[i - 1].StartExtent + segments[i - 1].ExtentCount)
                throw new LvmException($"{at}: segments overlap at extent {segments[i].StartExtent}");
    }
}
