using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Lvm;

/// <summary>
/// A linear or striped LV as a read-only block device: LV bytes map through its segments to
/// extents of its PVs (device-mapper's linear and striped targets, done in user space).
/// Positional reads only; thread-safe. Does not own the PV devices.
/// </summary>
internal sealed class LvmVolumeDevice : IBlockDevice
{
    private readonly LvmSegment[] _segments;
    private readonly Dictionary<string, (IBlockDevice Device, long DataStart)> _pvs;
    private readonly long _extentBytes;

    /// <param name="pvs">Each PV name of the VG to its device and the byte offset of its first extent (pe_start).</param>
    public LvmVolumeDevice(LvmVolumeGroup vg, LvmLogicalVolume lv, IReadOnlyDictionary<string, (IBlockDevice Device, long DataStart)> pvs)
    {
        if (lv.Unsupported != null) throw new LvmException($"LV {vg.Name}/{lv.Name}: {lv.Unsupported}");
        _extentBytes = vg.ExtentBytes;
        _segments = lv.Segments.OrderBy(s => s.StartExtent).ToArray();
        _pvs = new Dictionary<string, (IBlockDevice, long)>(StringComparer.Ordinal);
        foreach (var seg in _segments)
            foreach (var stripe in seg.Stripes)
            {
                if (!pvs.TryGetValue(stripe.PvName, out var pv))
                    throw new LvmException($"LV {vg.Name}/{lv.Name}: its PV {stripe.PvName} is not on this disk");
                long end = pv.DataStart + (stripe.StartExtent + seg.ExtentCount / seg.Stripes.Count) * _extentBytes;
                if (end > pv.Device.Length) throw new LvmException($"LV {vg.Name}/{lv.Name}: extents on {stripe.PvName} end at byte {end}, beyond its {pv.Device.Length} bytes");
                _pvs[stripe.PvName] = pv;
            }
        Length = lv.ExtentCount * _extentBytes;
    }

    public long Length { get; }
    public bool CanWrite => false;

    public void Read(Span<byte> buffer, long offset)
    {
        BlockDeviceGuard.CheckRange(this, offset, buffer.Length);
        while (!buffer.IsEmpty)
        {
            var (device, physical, run) = Map(offset, buffer.Length);
            if (device == null) buffer[..run].Clear();
            else device.Read(buffer[..run], physical);
            buffer = buffer[run..];
            offset += run;
        }
    }

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        var inner = new List<BlockExtent>();
        while (length > 0)
        {
            var (device, physical, run) = Map(offset, (int)Math.Min(length, 1L << 30));
            if (device == null) output.Add(new BlockExtent(offset, run, ExtentKind.Unallocated, -1));
            else
            {
                inner.Clear();
                device.GetExtents(physical, run, inner);
                foreach (var e in inner) output.Add(e with { Offset = e.Offset - physical + offset });
            }
            offset += run;
            length -= run;
        }
    }

    /// <summary>Where LV byte <paramref name="offset"/> lives, and how many bytes (at most <paramref name="max"/>) continue there; a null device is a gap (zeros).</summary>
    private (IBlockDevice? Device, long Physical, int Run) Map(long offset, int max)
    {
        long extent = offset / _extentBytes;
        int lo = 0, hi = _segments.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_segments[mid].StartExtent + _segments[mid].ExtentCount <= extent) lo = mid + 1; else hi = mid;
        }
        if (lo >= _segments.Length || _segments[lo].StartExtent > extent)
        {
            long gapEnd = lo < _segments.Length ? _segments[lo].StartExtent * _extentBytes : Length;
            return (null, 0, (int)Math.Min(max, gapEnd - offset));
        }
        var seg = _segments[lo];
        long x = offset - seg.StartExtent * _extentBytes;
        long segEnd = seg.ExtentCount * _extentBytes;
        if (seg.Stripes.Count == 1)
        {
            var pv = _pvs[seg.Stripes[0].PvName];
            return (pv.Device, pv.DataStart + seg.Stripes[0].StartExtent * _extentBytes + x, (int)Math.Min(max, segEnd - x));
        }
        long stripeBytes = seg.StripeSizeSectors * 512;
        long chunk = x / stripeBytes, within = x % stripeBytes;
        int n = seg.Stripes.Count;
        var stripe = seg.Stripes[(int)(chunk % n)];
        var dev = _pvs[stripe.PvName];
        long physical = dev.DataStart + stripe.StartExtent * _extentBytes + chunk / n * stripeBytes + within;
        return (dev.Device, physical, (int)Math.Min(max, Math.Min(stripeBytes - within, segEnd - x)));
    }

    public void Write(ReadOnlySpan<byte> data, long offset) => throw new ReadOnlyDeviceException();
    public void Flush() { }
    public void Discard(long offset, long length) => throw new ReadOnlyDeviceException();
    public void WriteZeroes(long offset, long length) => throw new ReadOnlyDeviceException();
    public void Dispose() { }
}
