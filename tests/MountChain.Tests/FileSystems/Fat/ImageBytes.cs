using MountChain.Tests.Infrastructure;
using System.Buffers.Binary;

namespace MountChain.Tests.FileSystems.Fat;

/// <summary>Raw reads and patches of an image file, and the exFAT entry-set checksum a patch must keep consistent.</summary>
internal static class ImageBytes
{
    public static byte[] Read(string path, long offset, int count)
    {
        using var h = File.OpenHandle(path);
        var b = new byte[count];
        RandomAccess.Read(h, b, offset);
        return b;
    }

    public static void Write(string path, long offset, byte[] bytes)
    {
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(h, bytes, offset);
    }

    public static ushort U16(string path, long offset) => BinaryPrimitives.ReadUInt16LittleEndian(Read(path, offset, 2));
    public static uint U32(string path, long offset) => BinaryPrimitives.ReadUInt32LittleEndian(Read(path, offset, 4));
    public static void PutU16(string path, long offset, ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); Write(path, offset, b); }
    public static void PutU32(string path, long offset, uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); Write(path, offset, b); }
    public static void PutU64(string path, long offset, ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); Write(path, offset, b); }

    /// <summary>Recomputes the SetChecksum of the exFAT entry set whose File entry is at <paramref name="fileEntry"/> (the spec's rotate-add over the set without bytes 2–3).</summary>
    public static void FixSetChecksum(string path, long fileEntry)
    {
        int count = Read(path, fileEntry + 1, 1)[0] + 1;
        var set = Read(path, fileEntry, count * 32);
        ushort sum = 0;
        for (int i = 0; i < set.Length; i++)
            if (i is not (2 or 3)) sum = (ushort)(((sum & 1) != 0 ? 0x8000 : 0) + (sum >> 1) + set[i]);
        PutU16(path, fileEntry + 2, sum);
    }
}
