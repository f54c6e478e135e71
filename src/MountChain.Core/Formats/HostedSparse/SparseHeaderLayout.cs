namespace MountChain.Core.Formats.HostedSparse;

/// <summary>Byte positions of the SparseExtentHeader fields (format doc §2.1), each built from the one before.</summary>
internal static class SparseHeaderLayout
{
    public const int Magic = 0x00;
    public const int Version = Magic + 4;
    public const int Flags = Version + 4;
    public const int Capacity = Flags + 4;
    public const int GrainSize = Capacity + 8;
    public const int DescriptorOffset = GrainSize + 8;
    public const int DescriptorSize = DescriptorOffset + 8;
    public const int NumGtesPerGt = DescriptorSize + 8;
    public const int RgdOffset = NumGtesPerGt + 4;
    public const int GdOffset = RgdOffset + 8;
    public const int OverHead = GdOffset + 8;
    public const int UncleanShutdown = OverHead + 8;
    public const int SingleEndLineChar = UncleanShutdown + 1;
    public const int NonEndLineChar = SingleEndLineChar + 1;
    public const int DoubleEndLineChar1 = NonEndLineChar + 1;
    public const int DoubleEndLineChar2 = DoubleEndLineChar1 + 1;
    public const int CompressAlgorithm = DoubleEndLineChar2 + 1;
    public const int Size = 512;

    /// <summary>"KDMV" as a little-endian u32.</summary>
    public const uint MagicValue = 0x564D444B;
    /// <summary>"kdmv": open-vmdk's marker of a file still being written (§2.1).</summary>
    public const uint IncompleteMagicValue = 0x766D646B;
    /// <summary>gdOffset meaning "the GD is at the end; read the footer" (§3).</summary>
    public const ulong GdAtEnd = 0xFFFFFFFFFFFFFFFF;
}

/// <summary>Flag bits of the header (format doc §2.2).</summary>
[Flags]
internal enum SparseFlags : uint
{
    ValidNewlineDetector = 1u << 0,
    UseRedundant = 1u << 1,
    ZeroedGrainGte = 1u << 2,
    Compressed = 1u << 16,
    EmbeddedLba = 1u << 17,
    /// <summary>Incompatible bits we understand; any other bit in 0xFFFF0000 is refused.</summary>
    KnownIncompatible = Compressed | EmbeddedLba,
    IncompatibleMask = 0xFFFF0000,
}
