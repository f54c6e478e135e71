using System.Buffers.Binary;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>A streamOptimized marker (format doc §3.1): a grain header when Size ≠ 0, else a metadata marker of <see cref="Type"/>.</summary>
internal readonly record struct StreamMarker(ulong Value, uint Size, uint Type)
{
    public const int GrainHeaderBytes = 12;
    public const uint TypeEos = 0, TypeGrainTable = 1, TypeGrainDirectory = 2, TypeFooter = 3;

    public static StreamMarker Parse(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(s),
        BinaryPrimitives.ReadUInt32LittleEndian(s[8..]),
        s.Length >= 16 ? BinaryPrimitives.ReadUInt32LittleEndian(s[12..]) : 0);
}
