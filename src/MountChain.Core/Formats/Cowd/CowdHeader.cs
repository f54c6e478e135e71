using System.Buffers.Binary;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.Cowd;

/// <summary>The fields of a COWD header a reader needs (format doc §4.1), parsed and checked.</summary>
internal sealed record CowdHeader(uint Version, uint Flags, uint NumSectors, uint GrainSize, uint GdOffset, uint NumGdEntries,
    uint FreeSector, uint SavedGeneration, bool UncleanShutdown)
{
    /// <summary>Sectors one grain table covers.</summary>
    public long GtCoverage => (long)CowdHeaderLayout.GtEntries * GrainSize;

    /// <summary>Sectors the GD occupies, rounded up.</summary>
    public long GdSectors => Sector.CeilingOf((long)NumGdEntries * 4);

    /// <summary>First sector after the header and the GD: grain tables and grains must lie at or after it.</summary>
    public long MetadataEndSector => GdOffset + GdSectors;

    public static bool HasMagic(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == CowdHeaderLayout.MagicValue;

    /// <summary>Parses the 2048-byte header; every field is checked before anything is allocated from it.</summary>
    public static CowdHeader Parse(ReadOnlySpan<byte> h, string file)
    {
        if (!HasMagic(h))
            throw new CorruptMetadataException(file, "COWD header: magic is not 'COWD'");
        static uint Read(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
        uint version = Read(h, CowdHeaderLayout.Version);
        if (version != 1)
            throw new UnsupportedFeatureException(file, $"COWD header: version {version} is not supported (only 1, §10.1)");
        uint sectors = Read(h, CowdHeaderLayout.NumSectors);
        if (sectors == 0)
            throw new CorruptMetadataException(file, "COWD header: numSectors is 0");
        uint grain = Read(h, CowdHeaderLayout.GrainSize);
        if (grain == 0 || grain > CowdHeaderLayout.MaxGrainSectors)
            throw new CorruptMetadataException(file, $"COWD header: grainSize {grain} sectors is outside 1..{CowdHeaderLayout.MaxGrainSectors}");
        uint gdOffset = Read(h, CowdHeaderLayout.GdOffset);
        if (gdOffset < CowdHeaderLayout.Size / Sector.Size)
            throw new CorruptMetadataException(file, $"COWD header: gdOffset {gdOffset} lies inside the 4-sector header");
        uint entries = Read(h, CowdHeaderLayout.NumGdEntries);
        long coverage = (long)CowdHeaderLayout.GtEntries * grain;
        long needed = (sectors + coverage - 1) / coverage;
        // §4.1: numGDEntries = ceil(numSectors / (4096·grainSize)); fewer cannot address the disk,
        // more would let a hostile header make us allocate for nothing.
        if (entries != needed)
            throw new CorruptMetadataException(file, $"COWD header: numGDEntries {entries} should be {needed} for {sectors} sectors of {grain}-sector grains");
        return new CowdHeader(version, Read(h, CowdHeaderLayout.Flags), sectors, grain, gdOffset, entries,
            Read(h, CowdHeaderLayout.FreeSector), Read(h, CowdHeaderLayout.SavedGeneration), Read(h, CowdHeaderLayout.UncleanShutdown) != 0);
    }
}
