using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// Parses FAT directory entries: 8.3 entries with the NT case flags, VFAT long-name entries
/// (UTF-16, 13 characters each, ordinal-numbered backwards, each carrying the checksum of the 8.3
/// name they belong to). A long name whose ordinals or checksum do not match the 8.3 entry that
/// follows is an orphan and is ignored, as Linux vfat and Windows do: the 8.3 name is shown.
/// Deleted entries (0xE5) are skipped, "." and ".." are not listed, 0x00 ends the directory.
/// </summary>
internal static class FatDirectoryParser
{
    private const int MaxLongEntries = 20; // 255 characters
    private static readonly int[] LongNameCharOffsets = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

    public static FatDirectoryListing Parse(DirectoryEntryStream stream, bool isRoot)
    {
        var entries = new List<FatDirectoryEntry>();
        string? label = null;
        var longName = new char[MaxLongEntries * 13];
        int longCount = 0, expected = -1; // expected: the next ordinal wanted; 0 = complete; -1 = none
        byte longChecksum = 0;
        while (stream.Next(out var e, out long position))
        {
            byte first = e[0];
            if (first == 0x00) break;
            if (first == 0xE5) { expected = -1; continue; }
            byte attributes = e[11];
            if (attributes == FatDirectoryEntry.LongNameMarker)
            {
                int ordinal = first & 0x3F;
                if ((first & 0x40) != 0 && ordinal is >= 1 and <= MaxLongEntries)
                {
                    longCount = ordinal;
                    longChecksum = e[13];
                    CopyLongChars(e, longName, ordinal - 1);
                    expected = ordinal - 1;
                }
                else if (expected > 0 && ordinal == expected && e[13] == longChecksum)
                {
                    CopyLongChars(e, longName, ordinal - 1);
                    expected--;
                }
                else expected = -1;
                continue;
            }
            bool hadLongName = expected == 0 && ShortNames.Checksum(e[..11]) == longChecksum;
            expected = -1;
            if ((attributes & FatDirectoryEntry.VolumeLabel) != 0)
            {
                if (isRoot && label == null && (attributes & FatDirectoryEntry.Directory) == 0) label = ShortNames.Decode(e[..11]).TrimEnd(' ');
                continue;
            }
            if (first == '.' && (e[1..11].SequenceEqual("          "u8) || e[1] == '.' && e[2..11].SequenceEqual("         "u8))) continue;
            string shortName = ShortNames.Display(e[..11], e[12]);
            string? name = hadLongName ? LongNameText(longName, longCount) : null;
            if (name == null || !IsUsableName(name)) name = shortName;
            if (!IsUsableName(name)) continue; // an 8.3 name of only spaces or with '/' names nothing reachable
            entries.Add(new FatDirectoryEntry(
                name, shortName, attributes,
                (uint)(BinaryPrimitives.ReadUInt16LittleEndian(e[20..]) << 16 | BinaryPrimitives.ReadUInt16LittleEndian(e[26..])),
                BinaryPrimitives.ReadUInt32LittleEndian(e[28..]),
                position,
                DosTime.Decode(BinaryPrimitives.ReadUInt16LittleEndian(e[24..]), BinaryPrimitives.ReadUInt16LittleEndian(e[22..])),
                DosTime.Decode(BinaryPrimitives.ReadUInt16LittleEndian(e[18..]), 0),
                DosTime.Decode(BinaryPrimitives.ReadUInt16LittleEndian(e[16..]), BinaryPrimitives.ReadUInt16LittleEndian(e[14..]), e[13])));
        }
        return new FatDirectoryListing(entries, label);
    }

    private static void CopyLongChars(ReadOnlySpan<byte> e, char[] target, int slot)
    {
        for (int i = 0; i < 13; i++) target[slot * 13 + i] = (char)BinaryPrimitives.ReadUInt16LittleEndian(e[LongNameCharOffsets[i]..]);
    }

    /// <summary>The characters up to the first NUL (the rest is 0xFFFF padding).</summary>
    private static string? LongNameText(char[] chars, int entries)
    {
        var span = chars.AsSpan(0, entries * 13);
        int nul = span.IndexOf('\0');
        if (nul >= 0) span = span[..nul];
        return span.IsEmpty ? null : new string(span);
    }

    private static bool IsUsableName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.AsSpan().IndexOfAny('/', '\0') < 0 && name.AsSpan().Trim(' ').Length > 0;

    /// <summary>Short entries before a FAT directory counts as absurd: the 65 536 entries the format allows.</summary>
    public const long MaxDirectoryBytes = 65536L * DirectoryEntryStream.EntrySize;
}
