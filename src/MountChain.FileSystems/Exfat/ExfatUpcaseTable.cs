using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Exfat;

/// <summary>
/// The volume's up-case table: how names are compared and hashed. Stored as UTF-16 mappings for
/// characters 0, 1, 2, …; the pair 0xFFFF, N means "the next N characters map to themselves".
/// The table checksum in its directory entry is verified (same rotate-add sum as the boot region).
/// </summary>
internal sealed class ExfatUpcaseTable
{
    /// <summary>The full table is 128 KiB; anything much larger is not an up-case table.</summary>
    public const int MaxBytes = 2 * 65536 + 1024;

    private readonly char[] _map;

    private ExfatUpcaseTable(char[] map) => _map = map;

    public static ExfatUpcaseTable Parse(ReadOnlySpan<byte> data, uint storedChecksum, string where)
    {
        uint sum = 0;
        foreach (byte b in data) sum = ((sum & 1) != 0 ? 0x80000000u : 0) + (sum >> 1) + b;
        if (sum != storedChecksum)
            throw new FileSystemCorruptException($"{where}: up-case table checksum mismatch (computed 0x{sum:X8}, stored 0x{storedChecksum:X8})");
        var map = new char[65536];
        for (int i = 0; i < map.Length; i++) map[i] = (char)i;
        int next = 0;
        for (int i = 0; i + 1 < data.Length && next < map.Length; i += 2)
        {
            char c = (char)BinaryPrimitives.ReadUInt16LittleEndian(data[i..]);
            if (c == 0xFFFF && i + 3 < data.Length)
            {
                next += BinaryPrimitives.ReadUInt16LittleEndian(data[(i + 2)..]);
                i += 2;
                continue;
            }
            map[next++] = c;
        }
        return new ExfatUpcaseTable(map);
    }

    public char ToUpper(char c) => _map[c];

    public bool NamesEqual(string a, string b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (_map[a[i]] != _map[b[i]]) return false;
        return true;
    }

    /// <summary>The NameHash of a stream extension entry: a rotate-add sum over the up-cased UTF-16 name, low byte first.</summary>
    public ushort NameHash(ReadOnlySpan<char> name)
    {
        ushort hash = 0;
        foreach (char raw in name)
        {
            char c = _map[raw];
            hash = (ushort)(((hash & 1) != 0 ? 0x8000 : 0) + (hash >> 1) + (c & 0xFF));
            hash = (ushort)(((hash & 1) != 0 ? 0x8000 : 0) + (hash >> 1) + (c >> 8));
        }
        return hash;
    }
}
