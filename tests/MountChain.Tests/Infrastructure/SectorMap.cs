using MountChain.Core.BlockDevices;

namespace MountChain.Tests.Infrastructure;

/// <summary>What one 512-byte sector of a generation is made of, and which link serves it (-1: none).</summary>
public readonly record struct SectorState(ExtentKind Kind, int Generation);

/// <summary>Per-sector allocation tables from our extents and from `qemu-img map`, for small disks.</summary>
public static class SectorMap
{
    public static SectorState[] FromExtents(IEnumerable<BlockExtent> extents, long length)
    {
        var map = new SectorState[(length + 511) / 512];
        long expected = 0;
        foreach (var e in extents)
        {
            Assert.Equal(expected, e.Offset); // extents are ordered and contiguous
            for (long s = e.Offset / 512; s < (e.Offset + e.Length + 511) / 512; s++)
                map[s] = new SectorState(e.Kind, e.Kind == ExtentKind.Unallocated ? -1 : e.Generation);
            expected = e.Offset + e.Length;
        }
        Assert.Equal(length, expected);
        return map;
    }

    /// <summary>qemu's view of generation <paramref name="top"/>: depth d means link top−d.</summary>
    public static SectorState[] FromQemu(IEnumerable<QemuMapEntry> entries, long length, int top)
    {
        var map = new SectorState[(length + 511) / 512];
        foreach (var e in entries)
        {
            var state = !e.Present ? new SectorState(ExtentKind.Unallocated, -1)
                : e.Data ? new SectorState(ExtentKind.Data, top - e.Depth)
                : new SectorState(ExtentKind.Zero, top - e.Depth);
            for (long s = e.Start / 512; s < (e.Start + e.Length + 511) / 512; s++) map[s] = state;
        }
        return map;
    }

    /// <summary>Sectors allocated (data or zeroed) in the link <paramref name="file"/> alone.</summary>
    public static bool[] AllocatedInLink(string file, long length)
    {
        var allocated = new bool[(length + 511) / 512];
        foreach (var e in Qemu.Map(Qemu.WithoutBacking(file)))
            if (e.Present)
                for (long s = e.Start / 512; s < (e.Start + e.Length + 511) / 512; s++) allocated[s] = true;
        return allocated;
    }
}
