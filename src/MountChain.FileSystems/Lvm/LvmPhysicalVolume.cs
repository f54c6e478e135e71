using System.Buffers.Binary;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Volumes;

namespace MountChain.FileSystems.Lvm;

/// <summary>
/// An LVM2 physical volume's label (a "LABELONE" sector in the first four, then the pv_header)
/// and the newest valid VG metadata text found in its metadata areas (lvm2 lib/format_text
/// layout.h). Every offset and size from the disk is checked against the device and the area.
/// </summary>
internal sealed class LvmPhysicalVolume
{
    private const uint LvmCrcSeed = 0xf597a6cf;
    private const int MdaHeaderSize = 512;
    private const int MaxMetadataText = 16 << 20;
    private static readonly byte[] MdaMagic = " LVM2 x[5A%r0N*>"u8.ToArray();

    /// <summary>PV UUID as in the metadata text's "id", dashes removed (32 characters).</summary>
    public required string Uuid { get; init; }
    public required long DeviceSize { get; init; }
    /// <summary>The newest metadata text (by VG seqno among valid areas), or null when the PV holds none (metadatacopies=0).</summary>
    public string? MetadataText { get; init; }
    /// <summary>Problems worked around: an area with a bad checksum, a text that does not parse.</summary>
    public required IReadOnlyList<string> Warnings { get; init; }

    /// <summary>Null when the device carries no LVM2 label.</summary>
    public static LvmPhysicalVolume? TryRead(IBlockDevice device, string name)
    {
        if (device.Length < 4 * 512) return null;
        var head = new byte[4 * 512];
        device.Read(head, 0);
        for (int s = 0; s < 4; s++)
        {
            var sector = head.AsSpan(s * 512, 512);
            if (!sector[..8].SequenceEqual("LABELONE"u8) || !sector.Slice(24, 8).SequenceEqual("LVM2 001"u8)) continue;
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(sector[16..]);
            if (Crc32.Update(LvmCrcSeed, sector[20..]) != crc) throw new LvmException($"{name}: LVM2 label checksum mismatch in sector {s}");
            int offset = (int)BinaryPrimitives.ReadUInt32LittleEndian(sector[20..]);
            if (offset < 32 || offset > 512 - 40) throw new LvmException($"{name}: LVM2 label: pv_header offset {offset} is outside the sector");
            return Parse(device, name, sector, offset);
        }
        return null;
    }

    private static LvmPhysicalVolume Parse(IBlockDevice device, string name, ReadOnlySpan<byte> sector, int offset)
    {
        var header = sector[offset..];
        string uuid = Encoding.ASCII.GetString(header[..32]);
        long size = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[32..]);
        int pos = 40;
        var metadataAreas = new List<(long Offset, long Size)>();
        for (int list = 0; list < 2; list++)
        {
            while (true)
            {
                if (pos + 16 > header.Length) throw new LvmException($"{name}: LVM2 pv_header: area list runs past the label sector");
                long o = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[pos..]), z = (long)BinaryPrimitives.ReadUInt64LittleEndian(header[(pos + 8)..]);
                pos += 16;
                if (o == 0 && z == 0) break;
                if (list == 1) metadataAreas.Add((o, z));
            }
        }
        var warnings = new List<string>();
        string? best = null;
        long bestSeqno = -1;
        foreach (var (o, z) in metadataAreas)
        {
            try
            {
                string? text = ReadArea(device, name, o, z);
                if (text == null) continue;
                long seqno = Seqno(text);
                if (seqno > bestSeqno) { best = text; bestSeqno = seqno; }
            }
            catch (LvmException e) { warnings.Add(e.Message); }
        }
        return new LvmPhysicalVolume { Uuid = uuid, DeviceSize = size, MetadataText = best, Warnings = warnings };
    }

    /// <summary>The current text of one metadata area: raw_locn[0] of its mda_header, possibly wrapping around the circular buffer.</summary>
    private static string? ReadArea(IBlockDevice device, string name, long start, long size)
    {
        if (start < 0 || size < MdaHeaderSize || start > device.Length - size)
            throw new LvmException($"{name}: LVM2 metadata area {start}+{size} lies outside the device");
        var mda = new byte[MdaHeaderSize];
        device.Read(mda, start);
        if (Crc32.Update(LvmCrcSeed, mda.AsSpan(4)) != BinaryPrimitives.ReadUInt32LittleEndian(mda))
            throw new LvmException($"{name}: LVM2 metadata area at {start}: header checksum mismatch");
        if (!mda.AsSpan(4, 16).SequenceEqual(MdaMagic)) throw new LvmException($"{name}: LVM2 metadata area at {start}: bad magic");
        var locn = mda.AsSpan(40);
        long offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(locn), length = (long)BinaryPrimitives.ReadUInt64LittleEndian(locn[8..]);
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(locn[16..]);
        if (offset == 0 && length == 0) return null;
        if (offset < MdaHeaderSize || offset >= size || length <= 0 || length > Math.Min(MaxMetadataText, size - MdaHeaderSize))
            throw new LvmException($"{name}: LVM2 metadata area at {start}: text {offset}+{length} does not fit the {size}-byte area");
        var text = new byte[length];
        long first = Math.Min(length, size - offset);
        device.Read(text.AsSpan(0, (int)first), start + offset);
        if (first < length) device.Read(text.AsSpan((int)first), start + MdaHeaderSize); // wrapped around the circular buffer
        if (Crc32.Update(LvmCrcSeed, text) != checksum) throw new LvmException($"{name}: LVM2 metadata text at {start + offset}: checksum mismatch");
        return Encoding.UTF8.GetString(text).TrimEnd('\0');
    }

    private static long Seqno(string text)
    {
        try
        {
            var root = LvmConfigText.Parse(text);
            return root.Sections.Count > 0 ? root.Sections[0].Section.Number("seqno") ?? 0 : 0;
        }
        catch (FormatException) { return 0; }
    }
}

/// <summary>LVM2 metadata is damaged or describes something we cannot read; the message names the structure.</summary>
public sealed class LvmException(string message) : IOException(message);
