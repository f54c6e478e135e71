using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// Multi-sector transfer protection (libfsntfs §4.2 "Fix-up values"): the last two bytes of every
/// 512-byte stride hold the update sequence number; the real bytes are kept in the array. A
/// mismatch means a torn write, so the record is refused.
/// </summary>
internal static class UpdateSequence
{
    private const int Stride = 512;

    public static void Apply(Span<byte> block, string what)
    {
        int usaOffset = BinaryPrimitives.ReadUInt16LittleEndian(block[MftRecordLayout.UsaOffset..]);
        int usaCount = BinaryPrimitives.ReadUInt16LittleEndian(block[MftRecordLayout.UsaCount..]);
        int strides = block.Length / Stride;
        if (usaCount != strides + 1 || usaOffset < 8 || usaOffset + usaCount * 2 > block.Length || (usaOffset & 1) != 0)
            throw new FileSystemCorruptException($"{what}: update sequence array ({usaCount} entries at 0x{usaOffset:x}) does not fit a {block.Length}-byte block");
        ushort usn = BinaryPrimitives.ReadUInt16LittleEndian(block[usaOffset..]);
        for (int i = 0; i < strides; i++)
        {
            var tail = block.Slice((i + 1) * Stride - 2, 2);
            if (BinaryPrimitives.ReadUInt16LittleEndian(tail) != usn)
                throw new FileSystemCorruptException($"{what}: update sequence mismatch in sector {i} (torn or corrupt write)");
            block.Slice(usaOffset + 2 + i * 2, 2).CopyTo(tail);
        }
    }
}
