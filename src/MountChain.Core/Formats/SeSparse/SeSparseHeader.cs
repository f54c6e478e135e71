using System.Buffers.Binary;
using MountChain.Core.Errors;
using L = MountChain.Core.Formats.SeSparse.SeSparseHeaderLayout;

namespace MountChain.Core.Formats.SeSparse;

/// <summary>The SESparse constant header fields a reader needs (format doc §5.1), checked as strictly as qemu does (§5.4).</summary>
internal sealed record SeSparseHeader(ulong Capacity, ulong VolatileHeaderOffset, ulong JournalHeaderOffset, ulong JournalOffset, ulong JournalSize,
    ulong GrainDirOffset, ulong GrainDirSize, ulong GrainTablesOffset, ulong GrainTablesSize,
    ulong FreeBitmapOffset, ulong BackmapOffset, ulong GrainsOffset, ulong GrainsSize)
{
    public static readonly byte[] MagicBytes = [0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0];

    public static bool HasMagic(ReadOnlySpan<byte> head) => head.Length >= 8 && head[..8].SequenceEqual(MagicBytes);

    /// <summary>GD entries the capacity needs (one per 16 MiB).</summary>
    public long NeededGdEntries => (long)((Capacity + (ulong)L.GtEntries * L.RequiredGrainSize - 1) / ((ulong)L.GtEntries * L.RequiredGrainSize));

    public static SeSparseHeader Parse(ReadOnlySpan<byte> h, string file)
    {
        static ulong Read(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
        string Field(string name) => $"SESparse constant header: {name}";
        if (Read(h, L.Magic) != L.MagicValue)
            throw new CorruptMetadataException(file, Field($"magic 0x{Read(h, L.Magic):x16} is not 0xcafebabe"));
        if (Read(h, L.Version) != L.VersionValue)
            throw new UnsupportedFeatureException(file, Field($"version 0x{Read(h, L.Version):x16} is not supported (only 0x200000001)"));
        if (Read(h, L.GrainSize) != L.RequiredGrainSize)
            throw new UnsupportedFeatureException(file, Field($"grainSize {Read(h, L.GrainSize)} is not supported (only 8 sectors)"));
        if (Read(h, L.GrainTableSize) != L.RequiredGrainTableSize)
            throw new UnsupportedFeatureException(file, Field($"grainTableSize {Read(h, L.GrainTableSize)} is not supported (only 64 sectors)"));
        if (Read(h, L.Flags) != 0)
            throw new UnsupportedFeatureException(file, Field($"flags 0x{Read(h, L.Flags):x16} are not supported (§10.2 item 14)"));
        for (int i = 0; i < L.ReservedCount; i++)
            if (Read(h, L.Reserved1 + i * 8) != 0)
                throw new UnsupportedFeatureException(file, Field($"reserved{i + 1} is 0x{Read(h, L.Reserved1 + i * 8):x16}, not 0"));
        if (h[L.Pad..L.Size].ContainsAnyExcept((byte)0))
            throw new UnsupportedFeatureException(file, Field("padding after byte 208 is not zero"));
        ulong capacity = Read(h, L.Capacity);
        if (capacity == 0)
            throw new CorruptMetadataException(file, Field("capacity is 0"));
        var header = new SeSparseHeader(capacity, Read(h, L.VolatileHeaderOffset), Read(h, L.JournalHeaderOffset), Read(h, L.JournalOffset), Read(h, L.JournalSize),
            Read(h, L.GrainDirOffset), Read(h, L.GrainDirSize), Read(h, L.GrainTablesOffset), Read(h, L.GrainTablesSize),
            Read(h, L.FreeBitmapOffset), Read(h, L.BackmapOffset), Read(h, L.GrainsOffset), Read(h, L.GrainsSize));
        if (header.NeededGdEntries > L.MaxGdEntries)
            throw new UnsupportedFeatureException(file, Field($"capacity {capacity} sectors is over the 64 TiB limit"));
        if (header.GrainDirSize * Sector.Size / 8 < (ulong)header.NeededGdEntries)
            throw new CorruptMetadataException(file, Field($"grainDirSize {header.GrainDirSize} sectors holds fewer than the {header.NeededGdEntries} entries {capacity} sectors need"));
        if (header.VolatileHeaderOffset == 0 || header.GrainDirOffset == 0 || header.GrainTablesOffset == 0 || header.GrainsOffset == 0)
            throw new CorruptMetadataException(file, Field("volatileHeaderOffset, grainDirOffset, grainTablesOffset and grainsOffset must all be set (a 0 points at this header)"));
        return header;
    }

    /// <summary>Checks the volatile header (§5.2): magic, and a journal that needs replay is refused — never replayed (§10.2 item 14).</summary>
    public static void CheckVolatile(ReadOnlySpan<byte> v, string file)
    {
        static ulong Read(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b[at..]);
        if (Read(v, L.VolatileMagic) != L.VolatileMagicValue)
            throw new CorruptMetadataException(file, $"SESparse volatile header: magic 0x{Read(v, L.VolatileMagic):x16} is not 0xcafecafe");
        if (Read(v, L.ReplayJournal) != 0)
            throw new UnsupportedFeatureException(file, "SESparse volatile header: replayJournal is set — the delta is dirty and its journal needs replaying; let ESXi consolidate it (we never replay a journal in place)");
        if (v[L.VolatilePad..L.Size].ContainsAnyExcept((byte)0))
            throw new UnsupportedFeatureException(file, "SESparse volatile header: padding after byte 32 is not zero");
    }
}
