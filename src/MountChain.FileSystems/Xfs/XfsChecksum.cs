using System.Buffers.Binary;
using System.Numerics;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// CRC32c (Castagnoli) as XFS v5 metadata uses it: seed ~0, final inversion, computed over the
/// whole structure with its 4-byte checksum field read as zero, stored little-endian
/// (XFS Algorithms &amp; Data Structures, "Metadata Checksumming").
/// </summary>
internal static class XfsChecksum
{
    public static bool IsValid(ReadOnlySpan<byte> buffer, int crcOffset) =>
        Compute(buffer, crcOffset) == BinaryPrimitives.ReadUInt32LittleEndian(buffer[crcOffset..]);

    public static uint Compute(ReadOnlySpan<byte> buffer, int crcOffset)
    {
        uint crc = ~0u;
        crc = Update(crc, buffer[..crcOffset]);
        crc = BitOperations.Crc32C(crc, 0u);
        crc = Update(crc, buffer[(crcOffset + 4)..]);
        return ~crc;
    }

    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }
}
