using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace MountChain.Tests.Infrastructure;

/// <summary>
/// Writes hosted sparse files byte by byte (format doc §2–3) for what qemu cannot make:
/// VMware's streamOptimized layout (GD_AT_END, GT/GD markers, footer, EOS), zeroed grains,
/// odd capacities. Grain contents are given per grain index; the builder also returns the raw
/// image a correct reader must produce, and where it put every structure (for corruption tests).
/// </summary>
public sealed class SparseImageBuilder
{
    public const ulong GdAtEnd = ulong.MaxValue;

    public long CapacitySectors { get; init; }
    public int GrainSectors { get; init; } = 128;
    public int GtesPerGt { get; init; } = 512;
    public uint Version { get; init; } = 1;
    /// <summary>Newline detector + redundant GD by default (qemu's 0x3).</summary>
    public uint Flags { get; init; } = 0x3;
    /// <summary>Embedded descriptor text (sector 1, 20 sectors), or null for none.</summary>
    public string? Descriptor { get; init; }
    /// <summary>VMware streamOptimized: compressed grains with markers, metadata at the end, footer + EOS.</summary>
    public bool StreamOptimized { get; init; }

    /// <summary>Grain index → data (at most one grain; shorter data is zero-padded, except a partial last grain).</summary>
    public SortedDictionary<long, byte[]> Grains { get; } = new();
    /// <summary>Grains whose GTE is 1 (needs flag bit 2).</summary>
    public SortedSet<long> ZeroedGrains { get; } = new();

    public sealed record Layout(long GdSector, long RgdSector, long[] GtSectors, Dictionary<long, long> GrainSectors, Dictionary<long, int> CompressedSizes, long OverHead);

    private int GrainBytes => GrainSectors * 512;
    private long GtCount => (CapacitySectors + (long)GtesPerGt * GrainSectors - 1) / ((long)GtesPerGt * GrainSectors);
    private int GtSectorCount => (GtesPerGt * 4 + 511) / 512;
    private int GdSectorCount => (int)((GtCount * 4 + 511) / 512);

    /// <summary>The bytes a correct reader returns: grains at their place, zeros elsewhere.</summary>
    public byte[] ExpectedRaw()
    {
        var raw = new byte[CapacitySectors * 512];
        foreach (var (index, data) in Grains)
        {
            long at = index * GrainBytes;
            data.AsSpan(0, (int)Math.Min(data.Length, raw.Length - at)).CopyTo(raw.AsSpan((int)at));
        }
        return raw;
    }

    public Layout WriteTo(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        return StreamOptimized ? WriteStream(file) : WriteHosted(file);
    }

    private Layout WriteHosted(FileStream file)
    {
        long descSectors = Descriptor is null ? 0 : 20;
        long rgd = 1 + descSectors;
        bool redundant = (Flags & 2) != 0;
        long rgts = rgd + GdSectorCount;
        long gd = redundant ? rgts + GtCount * GtSectorCount : rgd;
        if (!redundant) rgd = 0;
        long gts = gd + GdSectorCount;
        long overHead = RoundUp(gts + GtCount * GtSectorCount, GrainSectors);

        var header = Header(gdOffset: (ulong)gd, rgdOffset: (ulong)rgd, overHead: (ulong)overHead);
        Write(file, 0, header);
        if (Descriptor is not null) Write(file, 512, Encoding.UTF8.GetBytes(Descriptor));

        var tables = new uint[GtCount * GtesPerGt];
        var grainSectors = new Dictionary<long, long>();
        long next = overHead;
        foreach (var (index, data) in Grains)
        {
            tables[index] = (uint)next;
            grainSectors[index] = next;
            Write(file, next * 512, data);
            next += GrainSectors;
        }
        foreach (long z in ZeroedGrains) tables[z] = 1;
        var gtSectors = new long[GtCount];
        for (long t = 0; t < GtCount; t++)
        {
            gtSectors[t] = gts + t * GtSectorCount;
            WriteU32s(file, gtSectors[t] * 512, tables.AsSpan((int)(t * GtesPerGt), GtesPerGt));
            WriteU32(file, gd * 512 + t * 4, (uint)gtSectors[t]);
            if (redundant)
            {
                long rgt = rgts + t * GtSectorCount;
                WriteU32s(file, rgt * 512, tables.AsSpan((int)(t * GtesPerGt), GtesPerGt));
                WriteU32(file, rgd * 512 + t * 4, (uint)rgt);
            }
        }
        file.SetLength(Math.Max(file.Length, next * 512));
        return new Layout(gd, rgd, gtSectors, grainSectors, [], overHead);
    }

    /// <summary>TN50's layout: header (GD_AT_END) · descriptor · grains · GT markers+GTs · GD marker+GD · footer marker · footer · EOS.</summary>
    private Layout WriteStream(FileStream file)
    {
        long descSectors = Descriptor is null ? 0 : 20;
        long overHead = 1 + descSectors;
        Write(file, 0, Header(gdOffset: GdAtEnd, rgdOffset: 0, overHead: (ulong)overHead));
        if (Descriptor is not null) Write(file, 512, Encoding.UTF8.GetBytes(Descriptor));

        var tables = new uint[GtCount * GtesPerGt];
        var grainSectors = new Dictionary<long, long>();
        var sizes = new Dictionary<long, int>();
        long sector = overHead;
        foreach (var (index, data) in Grains)
        {
            long lba = index * GrainSectors;
            int length = (int)Math.Min(GrainBytes, (CapacitySectors - lba) * 512);
            var plain = new byte[length];
            data.AsSpan(0, Math.Min(data.Length, length)).CopyTo(plain);
            byte[] compressed = Compress(plain);
            var record = new byte[RoundUp(12 + compressed.Length, 512)];
            BinaryPrimitives.WriteUInt64LittleEndian(record, (ulong)lba);
            BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), (uint)compressed.Length);
            compressed.CopyTo(record, 12);
            Write(file, sector * 512, record);
            tables[index] = (uint)sector;
            grainSectors[index] = sector;
            sizes[index] = compressed.Length;
            sector += record.Length / 512;
        }
        foreach (long z in ZeroedGrains) tables[z] = 1;
        var gtSectors = new long[GtCount];
        for (long t = 0; t < GtCount; t++)
        {
            Write(file, sector * 512, Marker((ulong)GtSectorCount, 1));
            gtSectors[t] = sector + 1;
            WriteU32s(file, gtSectors[t] * 512, tables.AsSpan((int)(t * GtesPerGt), GtesPerGt));
            sector += 1 + GtSectorCount;
        }
        Write(file, sector * 512, Marker((ulong)GdSectorCount, 2));
        long gd = sector + 1;
        for (long t = 0; t < GtCount; t++) WriteU32(file, gd * 512 + t * 4, (uint)gtSectors[t]);
        sector = gd + GdSectorCount;
        Write(file, sector * 512, Marker(1, 3));
        Write(file, (sector + 1) * 512, Header(gdOffset: (ulong)gd, rgdOffset: 0, overHead: (ulong)overHead));
        Write(file, (sector + 2) * 512, Marker(0, 0));
        file.SetLength((sector + 3) * 512);
        return new Layout(gd, 0, gtSectors, grainSectors, sizes, overHead);
    }

    private byte[] Header(ulong gdOffset, ulong rgdOffset, ulong overHead)
    {
        var h = new byte[512];
        "KDMV"u8.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(0x04), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(0x08), Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x0C), (ulong)CapacitySectors);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x14), (ulong)GrainSectors);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x1C), Descriptor is null ? 0UL : 1UL);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x24), Descriptor is null ? 0UL : 20UL);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(0x2C), (uint)GtesPerGt);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x30), rgdOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x38), gdOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(0x40), overHead);
        h[0x49] = (byte)'\n'; h[0x4A] = (byte)' '; h[0x4B] = (byte)'\r'; h[0x4C] = (byte)'\n';
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(0x4D), (ushort)(StreamOptimized ? 1 : 0));
        return h;
    }

    private static byte[] Marker(ulong value, uint type)
    {
        var m = new byte[512];
        BinaryPrimitives.WriteUInt64LittleEndian(m, value);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), type);
        return m;
    }

    /// <summary>zlib (RFC 1950) as qemu and VMware write it (format doc §3.1).</summary>
    public static byte[] Compress(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(data);
        return ms.ToArray();
    }

    /// <summary>A descriptor for a base link made of one SPARSE extent named <paramref name="fileName"/>.</summary>
    public static string BaseDescriptor(string fileName, long sectors, string createType, uint cid = 0x12345678) =>
        $"# Disk DescriptorFile\nversion=1\nCID={cid:x8}\nparentCID=ffffffff\ncreateType=\"{createType}\"\n\n# Extent description\nRW {sectors} SPARSE \"{fileName}\"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"ide\"\n";

    private static long RoundUp(long v, long m) => (v + m - 1) / m * m;

    private static void Write(FileStream f, long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(f.SafeFileHandle, data, offset);

    private static void WriteU32(FileStream f, long offset, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        Write(f, offset, b);
    }

    private static void WriteU32s(FileStream f, long offset, ReadOnlySpan<uint> values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 4), values[i]);
        Write(f, offset, b);
    }
}

/// <summary>Reads and patches fields of existing (qemu-made) sparse files, for corruption tests.</summary>
public static class SparseFileEditor
{
    public const int VersionOffset = 0x04, FlagsOffset = 0x08, CapacityOffset = 0x0C, GrainSizeOffset = 0x14,
        NumGtesOffset = 0x2C, RgdOffsetOffset = 0x30, GdOffsetOffset = 0x38, OverHeadOffset = 0x40, NewlineOffset = 0x49;

    public static uint ReadU32(string path, long offset)
    {
        Span<byte> b = stackalloc byte[4];
        using var h = File.OpenHandle(path);
        RandomAccess.Read(h, b, offset);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public static ulong ReadU64(string path, long offset)
    {
        Span<byte> b = stackalloc byte[8];
        using var h = File.OpenHandle(path);
        RandomAccess.Read(h, b, offset);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    public static void WriteU32(string path, long offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(h, b, offset);
    }

    public static void WriteU64(string path, long offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(h, b, offset);
    }

    public static void WriteByte(string path, long offset, byte value)
    {
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(h, new[] { value }, offset);
    }

    /// <summary>Sector of grain table <paramref name="index"/> per the primary (or redundant) GD.</summary>
    public static long GtSector(string path, int index, bool redundant = false)
    {
        long gd = (long)ReadU64(path, redundant ? RgdOffsetOffset : GdOffsetOffset);
        return ReadU32(path, gd * 512 + index * 4);
    }

    /// <summary>Byte offset of GTE <paramref name="entry"/> in grain table <paramref name="table"/>.</summary>
    public static long GteOffset(string path, int table, int entry, bool redundant = false) => GtSector(path, table, redundant) * 512 + entry * 4;

    /// <summary>Rewrites the NUL-padded embedded descriptor (sector 1, 20 sectors).</summary>
    public static void EditEmbeddedDescriptor(string path, Func<string, string> edit)
    {
        long offset = (long)ReadU64(path, 0x1C) * 512, size = (long)ReadU64(path, 0x24) * 512;
        var bytes = new byte[size];
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Read(h, bytes, offset);
        int nul = Array.IndexOf(bytes, (byte)0);
        string text = Encoding.UTF8.GetString(bytes, 0, nul < 0 ? bytes.Length : nul);
        var replaced = Encoding.UTF8.GetBytes(edit(text));
        if (replaced.Length > size) throw new InvalidOperationException("edited descriptor does not fit");
        var padded = new byte[size];
        replaced.CopyTo(padded, 0);
        RandomAccess.Write(h, padded, offset);
    }

    /// <summary>The embedded descriptor's text.</summary>
    public static string EmbeddedDescriptor(string path)
    {
        long offset = (long)ReadU64(path, 0x1C) * 512, size = (long)ReadU64(path, 0x24) * 512;
        var bytes = new byte[size];
        using var h = File.OpenHandle(path);
        RandomAccess.Read(h, bytes, offset);
        int nul = Array.IndexOf(bytes, (byte)0);
        return Encoding.UTF8.GetString(bytes, 0, nul < 0 ? bytes.Length : nul);
    }
}
