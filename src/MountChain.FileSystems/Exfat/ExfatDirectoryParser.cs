using System.Buffers.Binary;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Fat;

namespace MountChain.FileSystems.Exfat;

/// <summary>
/// Reads the entry sets of an exFAT directory. A set is a File entry (0x85), a Stream Extension
/// (0xC0) and ⌈NameLength/15⌉ File Name entries (0xC1), optionally followed by vendor entries; its
/// SetChecksum (all bytes of the set except the checksum field) and the stream's NameHash (of the
/// up-cased name) are verified. Entries with the in-use bit clear are deleted and skipped; an
/// in-use secondary without its primary is skipped as a leftover; 0x00 ends the directory.
/// </summary>
internal static class ExfatDirectoryParser
{
    private const int Size = DirectoryEntryStream.EntrySize;
    private const byte EndOfDirectory = 0x00, InUse = 0x80, Secondary = 0x40, Benign = 0x20;
    public const byte AllocationBitmap = 0x81, UpcaseTable = 0x82, VolumeLabel = 0x83, File = 0x85;
    private const byte StreamExtension = 0xC0, FileName = 0xC1;

    /// <param name="upcase">Null while the root is read for the up-case table itself (names are then not hash-checked).</param>
    public static ExfatDirectoryListing Parse(DirectoryEntryStream stream, ExfatUpcaseTable? upcase, string where)
    {
        var entries = new List<ExfatDirectoryEntry>();
        var structures = new List<ExfatVolumeStructure>();
        string? label = null;
        var set = new byte[19 * Size];
        while (stream.Next(out var e, out long position))
        {
            byte type = e[0];
            if (type == EndOfDirectory) break;
            if ((type & InUse) == 0 || (type & Secondary) != 0) continue;
            switch (type)
            {
                case AllocationBitmap or UpcaseTable:
                    structures.Add(new ExfatVolumeStructure(type, e[1], BinaryPrimitives.ReadUInt32LittleEndian(e[4..]),
                        BinaryPrimitives.ReadUInt32LittleEndian(e[20..]), BinaryPrimitives.ReadUInt64LittleEndian(e[24..])));
                    continue;
                case VolumeLabel:
                    int count = Math.Min((int)e[1], 11);
                    label ??= new string(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(e.Slice(2, count * 2)));
                    continue;
                case File:
                    break;
                default:
                    if ((type & Benign) == 0)
                        throw new FileSystemCorruptException($"{where}: unknown critical directory entry type 0x{type:X2} at byte {position}");
                    // A benign primary (volume GUID, TexFAT padding, …): skip it and its secondaries.
                    for (int skip = e[1]; skip > 0 && stream.Next(out _, out _); skip--) { }
                    continue;
            }
            int secondaries = e[1];
            if (secondaries is < 2 or > 18)
                throw new FileSystemCorruptException($"{where}: file entry at byte {position}: SecondaryCount = {secondaries} (2–18)");
            e.CopyTo(set);
            for (int i = 1; i <= secondaries; i++)
            {
                if (!stream.Next(out var s, out _))
                    throw new FileSystemCorruptException($"{where}: file entry at byte {position}: the directory ends inside its entry set");
                if ((s[0] & (InUse | Secondary)) != (InUse | Secondary))
                    throw new FileSystemCorruptException($"{where}: file entry at byte {position}: entry {i} of its set is type 0x{s[0]:X2}, not an in-use secondary");
                s.CopyTo(set.AsSpan(i * Size));
            }
            entries.Add(ParseSet(set.AsSpan(0, (secondaries + 1) * Size), position, upcase, where));
        }
        return new ExfatDirectoryListing(entries, structures, label);
    }

    private static ExfatDirectoryEntry ParseSet(ReadOnlySpan<byte> set, long position, ExfatUpcaseTable? upcase, string where)
    {
        string at = $"{where}: file entry set at byte {position}";
        ushort stored = BinaryPrimitives.ReadUInt16LittleEndian(set[2..]);
        ushort sum = 0;
        for (int i = 0; i < set.Length; i++)
        {
            if (i is 2 or 3) continue;
            sum = (ushort)(((sum & 1) != 0 ? 0x8000 : 0) + (sum >> 1) + set[i]);
        }
        if (sum != stored) throw new FileSystemCorruptException($"{at}: SetChecksum mismatch (computed 0x{sum:X4}, stored 0x{stored:X4})");

        var stream = set.Slice(Size, Size);
        if (stream[0] != StreamExtension) throw new FileSystemCorruptException($"{at}: second entry is type 0x{stream[0]:X2}, not a stream extension");
        byte flags = stream[1];
        int nameLength = stream[3];
        ushort nameHash = BinaryPrimitives.ReadUInt16LittleEndian(stream[4..]);
        ulong valid = BinaryPrimitives.ReadUInt64LittleEndian(stream[8..]);
        uint firstCluster = BinaryPrimitives.ReadUInt32LittleEndian(stream[20..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(stream[24..]);
        int nameEntries = (nameLength + 14) / 15;
        if (nameLength == 0 || 2 + nameEntries > set.Length / Size)
            throw new FileSystemCorruptException($"{at}: NameLength = {nameLength} does not fit the {set.Length / Size - 2} name entries of the set");
        if (valid > length) throw new FileSystemCorruptException($"{at}: ValidDataLength {valid} exceeds DataLength {length}");
        if ((flags & 1) == 0 && (firstCluster != 0 || length != 0))
            throw new FileSystemCorruptException($"{at}: no allocation possible, yet FirstCluster = {firstCluster} and DataLength = {length}");

        var name = new char[nameLength];
        for (int i = 0; i < nameLength; i++)
        {
            var entry = set.Slice((2 + i / 15) * Size, Size);
            if (entry[0] != FileName) throw new FileSystemCorruptException($"{at}: entry {2 + i / 15} is type 0x{entry[0]:X2}, not a file name");
            name[i] = (char)BinaryPrimitives.ReadUInt16LittleEndian(entry[(2 + (i % 15) * 2)..]);
        }
        string text = new(name);
        if (text is "." or ".." || text.AsSpan().IndexOfAny('/', '\0') >= 0)
            throw new FileSystemCorruptException($"{at}: invalid file name '{text.Replace("\0", "\\0")}'");
        if (upcase != null && upcase.NameHash(name) != nameHash)
            throw new FileSystemCorruptException($"{at} ('{text}'): NameHash mismatch (computed 0x{upcase.NameHash(name):X4}, stored 0x{nameHash:X4})");

        var file = set[..Size];
        return new ExfatDirectoryEntry(
            text,
            BinaryPrimitives.ReadUInt16LittleEndian(file[4..]),
            firstCluster, length, valid, (flags & 2) != 0, position,
            ExfatTimestamp.Decode(BinaryPrimitives.ReadUInt32LittleEndian(file[8..]), file[20], file[22]),
            ExfatTimestamp.Decode(BinaryPrimitives.ReadUInt32LittleEndian(file[12..]), file[21], file[23]),
            ExfatTimestamp.Decode(BinaryPrimitives.ReadUInt32LittleEndian(file[16..]), 0, file[24]));
    }
}
