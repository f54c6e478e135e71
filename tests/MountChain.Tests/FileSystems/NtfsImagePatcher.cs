using System.Buffers.Binary;

namespace MountChain.Tests.FileSystems;

/// <summary>
/// Test-side knowledge of the NTFS layout (boot sector, MFT records, attributes, INDX blocks)
/// used to damage fresh mkntfs images in precise places. Written independently of the reader.
/// </summary>
internal sealed class NtfsImagePatcher(string image)
{
    private readonly byte[] _boot = ReadAt(image, 0, 512);

    public int ClusterSize => BinaryPrimitives.ReadUInt16LittleEndian(_boot.AsSpan(0x0B)) * _boot[0x0D];
    public long MftOffset => BinaryPrimitives.ReadInt64LittleEndian(_boot.AsSpan(0x30)) * ClusterSize;
    public int RecordSize => (sbyte)_boot[0x40] < 0 ? 1 << -(sbyte)_boot[0x40] : _boot[0x40] * ClusterSize;
    public long RecordOffset(int record) => MftOffset + (long)record * RecordSize;

    public static byte[] ReadAt(string path, long offset, int length)
    {
        using var h = File.OpenHandle(path);
        var b = new byte[length];
        RandomAccess.Read(h, b, offset);
        return b;
    }

    public static void WriteAt(string path, long offset, ReadOnlySpan<byte> data)
    {
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(h, data, offset);
    }

    /// <summary>Offset inside record <paramref name="record"/> (on disk, fix-ups left as they are) of the first attribute of <paramref name="type"/>.</summary>
    public int AttributeOffset(int record, uint type)
    {
        var r = ReadAt(image, RecordOffset(record), RecordSize);
        int off = BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(0x14));
        while (off + 8 < r.Length)
        {
            uint t = BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(off));
            if (t == 0xFFFFFFFF) break;
            if (t == type) return off;
            off += (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(off + 4));
        }
        throw new InvalidOperationException($"record {record} has no attribute 0x{type:x}");
    }

    /// <summary>First LCN of the non-resident attribute at <paramref name="attrOffset"/> of the record.</summary>
    public long FirstLcn(int record, int attrOffset)
    {
        var r = ReadAt(image, RecordOffset(record), RecordSize);
        int mpo = attrOffset + BinaryPrimitives.ReadUInt16LittleEndian(r.AsSpan(attrOffset + 0x20));
        int h = r[mpo], lenBytes = h & 0xF, offBytes = h >> 4;
        long lcn = 0;
        for (int i = offBytes - 1; i >= 0; i--) lcn = (lcn << 8) | r[mpo + 1 + lenBytes + i];
        return lcn;
    }

    /// <summary>Undoes (false) or re-applies (true) the update sequence of a multi-sector block.</summary>
    public static void Fixups(Span<byte> block, bool protect)
    {
        int usa = BinaryPrimitives.ReadUInt16LittleEndian(block[4..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(block[6..]);
        for (int i = 0; i < count - 1; i++)
        {
            var tail = block.Slice((i + 1) * 512 - 2, 2);
            var saved = block.Slice(usa + 2 + i * 2, 2);
            if (protect) { tail.CopyTo(saved); block.Slice(usa, 2).CopyTo(tail); }
            else saved.CopyTo(tail);
        }
    }
}
