using System.Buffers.Binary;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>The 512-byte KDMV header of a hosted sparse or streamOptimized extent (format doc §2.1).</summary>
internal sealed record SparseExtentHeader
{
    public uint Version { get; init; }
    public SparseFlags Flags { get; init; }
    public ulong Capacity { get; init; }
    public ulong GrainSize { get; init; }
    public ulong DescriptorOffset { get; init; }
    public ulong DescriptorSize { get; init; }
    public uint NumGtesPerGt { get; init; }
    public ulong RgdOffset { get; init; }
    public ulong GdOffset { get; init; }
    public ulong OverHead { get; init; }
    public bool UncleanShutdown { get; init; }
    public ushort CompressAlgorithm { get; init; }

    public bool IsCompressed => (Flags & SparseFlags.Compressed) != 0;
    public bool HasRedundantTables => (Flags & SparseFlags.UseRedundant) != 0;
    public bool AllowsZeroedGrains => (Flags & SparseFlags.ZeroedGrainGte) != 0;

    /// <summary>True if the first four bytes are "KDMV".</summary>
    public static bool HasMagic(ReadOnlySpan<byte> sector) =>
        sector.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(sector) == SparseHeaderLayout.MagicValue;

    /// <summary>Parses and checks the header; every rejection names the field (format doc §2.1–2.3, §10.2 items 11–12).</summary>
    public static SparseExtentHeader Parse(ReadOnlySpan<byte> s, string file)
    {
        if (s.Length < SparseHeaderLayout.Size)
            throw new CorruptMetadataException(file, $"sparse header truncated: {s.Length} of {SparseHeaderLayout.Size} bytes");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(s[SparseHeaderLayout.Magic..]);
        if (magic == SparseHeaderLayout.IncompleteMagicValue)
            throw new CorruptMetadataException(file, "header magic is 'kdmv': the file was never finished by its writer");
        if (magic != SparseHeaderLayout.MagicValue)
            throw new CorruptMetadataException(file, $"header magic 0x{magic:x8} is not KDMV");

        var h = new SparseExtentHeader
        {
            Version = BinaryPrimitives.ReadUInt32LittleEndian(s[SparseHeaderLayout.Version..]),
            Flags = (SparseFlags)BinaryPrimitives.ReadUInt32LittleEndian(s[SparseHeaderLayout.Flags..]),
            Capacity = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.Capacity..]),
            GrainSize = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.GrainSize..]),
            DescriptorOffset = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.DescriptorOffset..]),
            DescriptorSize = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.DescriptorSize..]),
            NumGtesPerGt = BinaryPrimitives.ReadUInt32LittleEndian(s[SparseHeaderLayout.NumGtesPerGt..]),
            RgdOffset = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.RgdOffset..]),
            GdOffset = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.GdOffset..]),
            OverHead = BinaryPrimitives.ReadUInt64LittleEndian(s[SparseHeaderLayout.OverHead..]),
            UncleanShutdown = s[SparseHeaderLayout.UncleanShutdown] != 0,
            CompressAlgorithm = BinaryPrimitives.ReadUInt16LittleEndian(s[SparseHeaderLayout.CompressAlgorithm..]),
        };

        if (h.Version is < 1 or > 3)
            throw new UnsupportedFeatureException(file, $"sparse header version {h.Version} is not supported (1–3)");
        uint incompatible = (uint)h.Flags & (uint)SparseFlags.IncompatibleMask;
        if ((incompatible & ~(uint)SparseFlags.KnownIncompatible) != 0)
            throw new UnsupportedFeatureException(file, $"unknown incompatible header flags 0x{incompatible:x8}");
        if ((h.Flags & SparseFlags.EmbeddedLba) != 0 && !h.IsCompressed)
            throw new CorruptMetadataException(file, "header flag EMBEDDED_LBA (bit 17) without COMPRESSED (bit 16)");
        if ((h.Flags & SparseFlags.ValidNewlineDetector) != 0 &&
            (s[SparseHeaderLayout.SingleEndLineChar] != (byte)'\n' || s[SparseHeaderLayout.NonEndLineChar] != (byte)' ' ||
             s[SparseHeaderLayout.DoubleEndLineChar1] != (byte)'\r' || s[SparseHeaderLayout.DoubleEndLineChar2] != (byte)'\n'))
            throw new CorruptMetadataException(file, "newline-detection bytes are wrong: the file was mangled by a text-mode transfer");
        if (h.GrainSize == 0 || h.GrainSize > (1u << 21) || (h.GrainSize & (h.GrainSize - 1)) != 0)
            throw new CorruptMetadataException(file, $"grainSize {h.GrainSize} is not a power of 2 up to 2^21 sectors");
        if (h.NumGtesPerGt is < 1 or > 512 || (h.NumGtesPerGt & (h.NumGtesPerGt - 1)) != 0)
            throw new CorruptMetadataException(file, $"numGTEsPerGT {h.NumGtesPerGt} is not a power of 2 up to 512");
        if (h.Capacity > (1UL << 40))
            throw new CorruptMetadataException(file, $"capacity {h.Capacity} sectors is absurd (more than 512 TiB)");
        if (h.IsCompressed && h.CompressAlgorithm != 1)
            throw new UnsupportedFeatureException(file, $"compressAlgorithm {h.CompressAlgorithm} is not supported (1 = deflate)");
        if (h.DescriptorOffset != 0 && h.DescriptorSize > DescriptorSectorsLimit)
            throw new CorruptMetadataException(file, $"descriptorSize {h.DescriptorSize} sectors is too large");
        return h;
    }

    /// <summary>
    /// Checks the 64-bit fields that name places in the file against its length (format doc §2.1,
    /// §10.2 item 1). Read as signed numbers they could go negative; compared unsigned here, a
    /// field past the end is an input error naming the file and the field. gdOffset and rgdOffset
    /// are checked with the directories they name (<c>HostedTableRules.DirectoryPlacementProblem</c>),
    /// so that a bad primary can still fall back to a good redundant copy (§2.6).
    /// </summary>
    public void CheckPlacement(long fileLength, string file)
    {
        ulong sectors = (ulong)fileLength / Formats.Sector.Size;
        if (DescriptorOffset != 0 && (DescriptorOffset >= sectors || DescriptorOffset + DescriptorSize > sectors))
            throw new CorruptMetadataException(file, $"descriptorOffset {DescriptorOffset} (descriptorSize {DescriptorSize} sectors) lies past the end of the {fileLength}-byte file");
        if (OverHead > MaxFileSectors)
            throw new CorruptMetadataException(file, $"overHead {OverHead} sectors lies beyond the 2^32 sectors a hosted sparse file can address (format doc §10.1)");
    }

    /// <summary>Grain and table positions are u32 sectors (format doc §10.1): a hosted sparse file ends at 2 TiB.</summary>
    public const long MaxFileSectors = 1L << 32;

    /// <summary>Largest embedded descriptor we read, in sectors (128 = 64 KiB).</summary>
    public const ulong DescriptorSectorsLimit = 128;

    /// <summary>Virtual sectors one grain table covers.</summary>
    public ulong GtCoverage => NumGtesPerGt * GrainSize;

    /// <summary>Number of grain tables (= GD entries) needed for the capacity (format doc §2.4 "Sizes").</summary>
    public ulong GrainTableCount => (Capacity + GtCoverage - 1) / GtCoverage;

    /// <summary>Serialises the header into a 512-byte sector (used by the redo-log writer).</summary>
    public void WriteTo(Span<byte> s)
    {
        s[..SparseHeaderLayout.Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[SparseHeaderLayout.Magic..], SparseHeaderLayout.MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(s[SparseHeaderLayout.Version..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(s[SparseHeaderLayout.Flags..], (uint)Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.Capacity..], Capacity);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.GrainSize..], GrainSize);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.DescriptorOffset..], DescriptorOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.DescriptorSize..], DescriptorSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[SparseHeaderLayout.NumGtesPerGt..], NumGtesPerGt);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.RgdOffset..], RgdOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.GdOffset..], GdOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SparseHeaderLayout.OverHead..], OverHead);
        s[SparseHeaderLayout.UncleanShutdown] = UncleanShutdown ? (byte)1 : (byte)0;
        s[SparseHeaderLayout.SingleEndLineChar] = (byte)'\n';
        s[SparseHeaderLayout.NonEndLineChar] = (byte)' ';
        s[SparseHeaderLayout.DoubleEndLineChar1] = (byte)'\r';
        s[SparseHeaderLayout.DoubleEndLineChar2] = (byte)'\n';
        BinaryPrimitives.WriteUInt16LittleEndian(s[SparseHeaderLayout.CompressAlgorithm..], CompressAlgorithm);
    }
}
