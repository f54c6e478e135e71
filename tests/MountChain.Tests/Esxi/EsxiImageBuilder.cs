using System.Buffers.Binary;
using System.Text;

namespace MountChain.Tests.Esxi;

/// <summary>
/// Writes the ESXi link kinds qemu cannot create (format doc §11), byte by byte from the format
/// doc: a VMFS flat base (§6.1), vmfsSparse/COWD deltas (§4) and SESparse deltas (§5), each with
/// the separate descriptor ESXi pairs it with (§1.1). qemu reads all three through their
/// descriptors, so every generation written here is also checked against `qemu-img convert`.
/// Each builder also applies itself to the parent's raw bytes: the model a correct reader matches.
/// </summary>
public static class EsxiImageBuilder
{
    /// <summary>ESXi-style descriptor text (§1.2–1.5): VMFS/VMFSSPARSE/SESPARSE extent, ddb keys, CRLF optional.</summary>
    public static string Descriptor(string createType, uint cid, uint parentCid, string? parentHint, long sectors, string extentType,
        string extentFile, string extentSuffix = "", bool crlf = false)
    {
        var sb = new StringBuilder();
        sb.Append("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n");
        sb.Append($"CID={cid:x8}\nparentCID={parentCid:x8}\nisNativeSnapshot=\"no\"\ncreateType=\"{createType}\"\n");
        if (parentHint is not null) sb.Append($"parentFileNameHint=\"{parentHint}\"\n");
        sb.Append($"\n# Extent description\nRW {sectors} {extentType} \"{extentFile}\"{extentSuffix}\n\n");
        sb.Append("# The Disk Data Base\n#DDB\n\n");
        if (parentHint is null)
            sb.Append($"ddb.adapterType = \"lsilogic\"\nddb.geometry.cylinders = \"{Math.Max(1, sectors / (255 * 63))}\"\nddb.geometry.heads = \"255\"\nddb.geometry.sectors = \"63\"\nddb.thinProvisioned = \"1\"\nddb.uuid = \"60 00 C2 90 38 f6 55 c2-c3 dd e6 80 96 81 12 d8\"\nddb.virtualHWVersion = \"14\"\n");
        if (extentType == "SESPARSE") sb.Append("ddb.grain = \"8\"\n");
        sb.Append($"ddb.longContentID = \"0123456789abcdef01234567{cid:x8}\"\nddb.deletable = \"true\"\n");
        string text = sb.ToString();
        return crlf ? text.Replace("\n", "\r\n") : text;
    }

    /// <summary>A VMFS flat base: `name.vmdk` (createType vmfs) + `name-flat.vmdk` holding <paramref name="raw"/>.</summary>
    public static string WriteVmfsBase(string directory, string name, byte[] raw, uint cid)
    {
        string flat = $"{name}-flat.vmdk";
        File.WriteAllBytes(Path.Combine(directory, flat), raw);
        string descriptor = Path.Combine(directory, $"{name}.vmdk");
        File.WriteAllText(descriptor, Descriptor("vmfs", cid, 0xFFFFFFFF, null, raw.Length / 512, "VMFS", flat));
        return descriptor;
    }

    internal static void Write(FileStream f, long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(f.SafeFileHandle, data, offset);

    internal static void WriteU32(FileStream f, long offset, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        Write(f, offset, b);
    }

    internal static void WriteU64(FileStream f, long offset, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        Write(f, offset, b);
    }

    /// <summary>Overwrites bytes of an existing file (hostile variants).</summary>
    public static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        Write(f, offset, bytes);
    }

    public static void PatchU32(string path, long offset, uint v)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        WriteU32(f, offset, v);
    }

    public static void PatchU64(string path, long offset, ulong v)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        WriteU64(f, offset, v);
    }

    public static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}

/// <summary>
/// A vmfsSparse (COWD) delta (§4): header (4 sectors), GD at sector 4, then, in the order grains
/// are "written", a 32-sector grain table when a 2 MiB region is first touched, followed by its grains.
/// </summary>
public sealed class CowdDeltaBuilder
{
    public required long CapacitySectors { get; init; }
    public uint GrainSectors { get; init; } = 1;
    /// <summary>Grain index → data (one grain; shorter data is zero-padded).</summary>
    public SortedDictionary<long, byte[]> Grains { get; } = new();
    /// <summary>Write order of the grains (default: descending, so tables and grains are not in virtual order).</summary>
    public IReadOnlyList<long>? Order { get; init; }
    public bool UncleanShutdown { get; init; }

    public sealed record Layout(long GdSector, Dictionary<long, long> GtSectors, Dictionary<long, long> GrainSectorOf);

    private long Coverage => 4096L * GrainSectors;
    private long GdEntries => (CapacitySectors + Coverage - 1) / Coverage;

    public Layout WriteTo(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        var header = new byte[2048];
        "COWD"u8.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)CapacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), GrainSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), (uint)GdEntries);
        if (UncleanShutdown) BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(1648), 1);
        long next = 4 + (GdEntries * 4 + 511) / 512;
        var gts = new Dictionary<long, long>();
        var grains = new Dictionary<long, long>();
        foreach (long g in Order ?? Grains.Keys.Reverse().ToList())
        {
            long table = g * GrainSectors / Coverage;
            if (!gts.TryGetValue(table, out long gtSector))
            {
                gtSector = gts[table] = next;
                next += 32;
                WriteU32Table(f, 4 * 512 + table * 4, (uint)gtSector);
            }
            grains[g] = next;
            WriteU32Table(f, gtSector * 512 + (g % 4096) * 4, (uint)next);
            var data = new byte[GrainSectors * 512];
            Grains[g].AsSpan(0, Math.Min(Grains[g].Length, data.Length)).CopyTo(data);
            EsxiImageBuilder.Write(f, next * 512, data);
            next += GrainSectors;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(28), (uint)next);
        EsxiImageBuilder.Write(f, 0, header);
        f.SetLength(Math.Max(f.Length, next * 512));
        return new Layout(4, gts, grains);
    }

    private static void WriteU32Table(FileStream f, long offset, uint v) => EsxiImageBuilder.WriteU32(f, offset, v);

    /// <summary>The generation this delta makes on top of <paramref name="parent"/>.</summary>
    public byte[] Apply(byte[] parent)
    {
        var raw = (byte[])parent.Clone();
        foreach (var (g, data) in Grains)
        {
            long at = g * GrainSectors * 512;
            int n = (int)Math.Min(GrainSectors * 512, raw.Length - at);
            raw.AsSpan((int)at, n).Clear();
            data.AsSpan(0, Math.Min(n, data.Length)).CopyTo(raw.AsSpan((int)at));
        }
        return raw;
    }

    /// <summary>Writes the delta and its descriptor (`name.vmdk` + `name-delta.vmdk`); returns the descriptor path.</summary>
    public string WriteLink(string directory, string name, uint cid, uint parentCid, string parentHint)
    {
        string delta = $"{name}-delta.vmdk";
        WriteTo(Path.Combine(directory, delta));
        string descriptor = Path.Combine(directory, $"{name}.vmdk");
        File.WriteAllText(descriptor, EsxiImageBuilder.Descriptor("vmfsSparse", cid, parentCid, parentHint, CapacitySectors, "VMFSSPARSE", delta));
        return descriptor;
    }
}

/// <summary>
/// A SESparse delta (§5): constant header, volatile header, journal header and journal (empty),
/// GD, GT pool (tables in reverse virtual order), free bitmap, backmap, grain pool (grains in
/// reverse virtual order). Entries: allocated, zero (type 2) and SCSI-unmapped (type 1, with
/// stale low bits, as XO notes real files have).
/// </summary>
public sealed class SeSparseDeltaBuilder
{
    public required long CapacitySectors { get; init; }
    /// <summary>4 KiB grain index → data.</summary>
    public SortedDictionary<long, byte[]> Grains { get; } = new();
    public SortedSet<long> ZeroGrains { get; } = new();
    public SortedSet<long> UnmappedGrains { get; } = new();
    /// <summary>GD size in sectors; 0 = just enough for the capacity.</summary>
    public long GrainDirSectors { get; init; }

    public sealed record Layout(long VolatileSector, long GdSector, long GtPoolSector, long GrainPoolSector, Dictionary<long, long> GtPoolIndex, Dictionary<long, long> ClusterOf);

    private const long GtCoverage = 4096 * 8;
    private long GdEntries => (CapacitySectors + GtCoverage - 1) / GtCoverage;

    public static ulong AllocatedEntry(long cluster) =>
        0x3000_0000_0000_0000UL | (((ulong)cluster & 0xFFF) << 48) | ((ulong)cluster >> 12);

    public Layout WriteTo(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        var used = Grains.Keys.Concat(ZeroGrains).Concat(UnmappedGrains).Select(g => g * 8 / GtCoverage).Distinct().OrderDescending().ToList();
        var poolIndex = new Dictionary<long, long>();
        for (int i = 0; i < used.Count; i++) poolIndex[used[i]] = i;
        long gdSectors = GrainDirSectors != 0 ? GrainDirSectors : (GdEntries * 8 + 511) / 512;
        long volatileSector = 1, journalHeader = 2, journal = 3, journalSize = 8;
        long gd = journal + journalSize;
        long gtPool = gd + gdSectors, gtPoolSize = Math.Max(1, used.Count) * 64L;
        long bitmap = gtPool + gtPoolSize, backmap = bitmap + 1;
        long grainPool = backmap + 1, grainPoolSize = Math.Max(1, Grains.Count) * 8L;

        var h = new byte[512];
        ulong[] fields =
        [
            0xCAFEBABE, 0x0000000200000001, (ulong)CapacitySectors, 8, 64, 0, 0, 0, 0, 0,
            (ulong)volatileSector, 1, (ulong)journalHeader, 1, (ulong)journal, (ulong)journalSize,
            (ulong)gd, (ulong)gdSectors, (ulong)gtPool, (ulong)gtPoolSize, (ulong)bitmap, 1, (ulong)backmap, 1,
            (ulong)grainPool, (ulong)grainPoolSize,
        ];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(h.AsSpan(i * 8), fields[i]);
        EsxiImageBuilder.Write(f, 0, h);
        var v = new byte[512];
        BinaryPrimitives.WriteUInt64LittleEndian(v, 0xCAFECAFE);
        BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(8), (ulong)used.Count);
        BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(16), 7);
        EsxiImageBuilder.Write(f, volatileSector * 512, v);
        foreach (var (table, index) in poolIndex)
            EsxiImageBuilder.WriteU64(f, gd * 512 + table * 8, 0x1000000000000000UL | (ulong)index);

        var clusters = new Dictionary<long, long>();
        long nextCluster = 0;
        foreach (long g in Grains.Keys.Reverse()) clusters[g] = nextCluster++;
        void Entry(long g, ulong e) => EsxiImageBuilder.WriteU64(f, (gtPool + poolIndex[g * 8 / GtCoverage] * 64) * 512 + (g % 4096) * 8, e);
        foreach (var (g, data) in Grains)
        {
            Entry(g, AllocatedEntry(clusters[g]));
            var grain = new byte[4096];
            data.AsSpan(0, Math.Min(4096, data.Length)).CopyTo(grain);
            EsxiImageBuilder.Write(f, (grainPool + clusters[g] * 8) * 512, grain);
        }
        foreach (long g in ZeroGrains) Entry(g, 0x2000000000000000);
        foreach (long g in UnmappedGrains) Entry(g, 0x1000000000000000 | 0x0005_0000_0000_0003); // stale cluster bits: ignored (§5.3)
        f.SetLength(Math.Max(f.Length, (grainPool + grainPoolSize) * 512));
        return new Layout(volatileSector, gd, gtPool, grainPool, poolIndex, clusters);
    }

    public byte[] Apply(byte[] parent)
    {
        var raw = (byte[])parent.Clone();
        foreach (long g in ZeroGrains.Concat(UnmappedGrains))
            raw.AsSpan((int)(g * 4096), (int)Math.Min(4096, raw.Length - g * 4096)).Clear();
        foreach (var (g, data) in Grains)
        {
            int n = (int)Math.Min(4096, raw.Length - g * 4096);
            raw.AsSpan((int)(g * 4096), n).Clear();
            data.AsSpan(0, Math.Min(n, data.Length)).CopyTo(raw.AsSpan((int)(g * 4096)));
        }
        return raw;
    }

    public string WriteLink(string directory, string name, uint cid, uint parentCid, string parentHint)
    {
        string delta = $"{name}-sesparse.vmdk";
        WriteTo(Path.Combine(directory, delta));
        string descriptor = Path.Combine(directory, $"{name}.vmdk");
        File.WriteAllText(descriptor, EsxiImageBuilder.Descriptor("seSparse", cid, parentCid, parentHint, CapacitySectors, "SESPARSE", delta));
        return descriptor;
    }
}
