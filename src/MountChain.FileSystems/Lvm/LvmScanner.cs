using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Volumes;

namespace MountChain.FileSystems.Lvm;

/// <summary>An LV found on a disk: its VG, the partition that holds its first extent, and how to open it.</summary>
internal sealed record LogicalVolumeLocation(LvmVolumeGroup VolumeGroup, LvmLogicalVolume Volume, Partition HomePartition,
    IReadOnlyDictionary<string, (Partition Partition, long DataStart)> PhysicalVolumes)
{
    /// <summary>"VG-LV" with dashes inside names doubled, as device-mapper names LVs (/dev/mapper/VG-LV).</summary>
    public string MapperName => $"{VolumeGroup.Name.Replace("-", "--")}-{Volume.Name.Replace("-", "--")}";

    public LvmVolumeDevice OpenDevice(IBlockDevice disk) =>
        new(VolumeGroup, Volume, PhysicalVolumes.ToDictionary(p => p.Key, p => ((IBlockDevice)new VolumeDevice(disk, p.Value.Partition.Offset, p.Value.Partition.Length), p.Value.DataStart)));
}

/// <summary>
/// Finds the LVs of a disk: reads the label of every LVM2 PV partition, takes each VG's newest
/// metadata (highest seqno among its PVs), and ties the VG's PVs to partitions by PV UUID.
/// A PV whose label or metadata is damaged is reported in the warnings and left out.
/// </summary>
internal static class LvmScanner
{
    public static List<LogicalVolumeLocation> Scan(IBlockDevice disk, IEnumerable<Partition> pvPartitions, List<string> warnings)
    {
        var byUuid = new Dictionary<string, Partition>(StringComparer.Ordinal);
        var groups = new Dictionary<string, (LvmVolumeGroup Vg, string Where)>(StringComparer.Ordinal);
        foreach (var p in pvPartitions)
        {
            try
            {
                var pv = LvmPhysicalVolume.TryRead(new VolumeDevice(disk, p.Offset, p.Length), p.Name);
                if (pv == null) continue;
                warnings.AddRange(pv.Warnings);
                byUuid[pv.Uuid] = p;
                if (pv.MetadataText == null) continue;
                var vg = LvmVolumeGroup.FromText(pv.MetadataText, p.Name);
                if (!groups.TryGetValue(vg.Id, out var known) || known.Vg.Seqno < vg.Seqno) groups[vg.Id] = (vg, p.Name);
            }
            catch (LvmException e) { warnings.Add(e.Message); }
        }
        var result = new List<LogicalVolumeLocation>();
        foreach (var (vg, where) in groups.Values.OrderBy(g => g.Where, StringComparer.Ordinal))
        {
            var pvs = new Dictionary<string, (Partition, long)>(StringComparer.Ordinal);
            foreach (var pv in vg.PhysicalVolumes)
                if (byUuid.TryGetValue(pv.Uuid, out var part)) pvs[pv.Name] = (part, pv.PeStartSectors * 512);
                else warnings.Add($"{where}: VG {vg.Name}: PV {pv.Name} ({pv.Uuid}) is not on this disk");
            foreach (var lv in vg.LogicalVolumes)
            {
                var first = lv.Segments.FirstOrDefault()?.Stripes[0].PvName;
                var home = first != null && pvs.TryGetValue(first, out var h) ? h.Item1 : byUuid.Values.First(p => p.Name == where);
                result.Add(new LogicalVolumeLocation(vg, lv, home, pvs));
            }
        }
        return result;
    }
}
