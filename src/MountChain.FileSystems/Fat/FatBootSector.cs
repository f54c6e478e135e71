using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Fat;

/// <summary>
/// The BIOS parameter block of a FAT12/16/32 volume and the regions it places: reserved sectors,
/// the FATs, the FAT12/16 root directory region and the cluster heap. The FAT type follows Linux:
/// FAT32 when the 16-bit FAT size is zero, else FAT12 below 4085 clusters and FAT16 above.
/// The FAT32 FSInfo sector only holds free-space hints and is not read.
/// </summary>
internal sealed record FatBootSector
{
    public required AllocationTableKind Kind { get; init; }
    public required int BytesPerSector { get; init; }
    public required int ClusterSize { get; init; }
    public required uint ClusterCount { get; init; }
    /// <summary>Byte offset and length of the FAT in use (the active one when mirroring is off).</summary>
    public required long FatOffset { get; init; }
    public required long FatLength { get; init; }
    /// <summary>FAT12/16 root directory region (byte offset, entry count); FAT32: 0, 0.</summary>
    public required long RootRegionOffset { get; init; }
    public required int RootEntryCount { get; init; }
    /// <summary>FAT32 root directory's first cluster; FAT12/16: 0.</summary>
    public required uint RootCluster { get; init; }
    public required long HeapOffset { get; init; }
    /// <summary>The label in the extended boot record, or empty ("NO NAME" is empty).</summary>
    public required string BootLabel { get; init; }

    public static FatBootSector Parse(ReadOnlySpan<byte> s, long volumeLength, string volume)
    {
        if (s.Length < 512) throw new FileSystemCorruptException($"{volume}: boot sector shorter than 512 bytes");
        int bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(s[0x0B..]);
        int sectorsPerCluster = s[0x0D];
        int reserved = BinaryPrimitives.ReadUInt16LittleEndian(s[0x0E..]);
        int fats = s[0x10];
        int rootEntries = BinaryPrimitives.ReadUInt16LittleEndian(s[0x11..]);
        uint totalSectors = BinaryPrimitives.ReadUInt16LittleEndian(s[0x13..]);
        if (totalSectors == 0) totalSectors = BinaryPrimitives.ReadUInt32LittleEndian(s[0x20..]);
        uint fatSectors = BinaryPrimitives.ReadUInt16LittleEndian(s[0x16..]);
        bool fat32 = fatSectors == 0;
        if (fat32) fatSectors = BinaryPrimitives.ReadUInt32LittleEndian(s[0x24..]);

        string Bad(string what) => $"{volume}: boot sector field {what}";
        if (bytesPerSector is not (512 or 1024 or 2048 or 4096)) throw new FileSystemCorruptException(Bad($"bytes per sector = {bytesPerSector} (512–4096, a power of two)"));
        if (sectorsPerCluster == 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) != 0) throw new FileSystemCorruptException(Bad($"sectors per cluster = {sectorsPerCluster} (a power of two)"));
        if ((long)sectorsPerCluster * bytesPerSector > 256 * 1024) throw new FileSystemCorruptException(Bad($"cluster size = {sectorsPerCluster * bytesPerSector} bytes (at most 256 KiB)"));
        if (reserved == 0) throw new FileSystemCorruptException(Bad("reserved sectors = 0"));
        if (fats is 0 or > 16) throw new FileSystemCorruptException(Bad($"number of FATs = {fats}"));
        if (fatSectors == 0) throw new FileSystemCorruptException(Bad("sectors per FAT = 0"));
        if (fat32 && rootEntries != 0) throw new FileSystemCorruptException(Bad($"root entry count = {rootEntries} on FAT32 (must be 0)"));
        if (!fat32 && rootEntries == 0) throw new FileSystemCorruptException(Bad("root entry count = 0 on FAT12/16"));

        long rootSectors = ((long)rootEntries * 32 + bytesPerSector - 1) / bytesPerSector;
        long metaSectors = reserved + (long)fats * fatSectors + rootSectors;
        if (metaSectors >= totalSectors) throw new FileSystemCorruptException(Bad($"total sectors = {totalSectors}, not more than the {metaSectors} sectors of reserved area, FATs and root directory"));
        if ((long)totalSectors * bytesPerSector > volumeLength)
            throw new FileSystemCorruptException($"{volume}: the file system ({(long)totalSectors * bytesPerSector} bytes) is larger than its {volumeLength}-byte volume");
        long clusters = (totalSectors - metaSectors) / sectorsPerCluster;
        var kind = fat32 ? AllocationTableKind.Fat32 : clusters < 4085 ? AllocationTableKind.Fat12 : AllocationTableKind.Fat16;
        if (kind == AllocationTableKind.Fat16 && clusters >= 65525) throw new FileSystemCorruptException(Bad($"sectors per FAT: {clusters} clusters need FAT32, but the 16-bit FAT size is set"));
        if (clusters > 0x0FFFFFF5) throw new FileSystemCorruptException(Bad($"{clusters} clusters (FAT32 holds at most 268435445)"));
        if (clusters == 0) throw new FileSystemCorruptException(Bad("no data clusters"));

        // FAT32 extended flags: bit 7 = mirroring off, bits 0–3 = the one active FAT.
        int active = 0;
        uint rootCluster = 0;
        if (fat32)
        {
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(s[0x28..]);
            if ((flags & 0x80) != 0) active = flags & 0xF;
            if (active >= fats) throw new FileSystemCorruptException(Bad($"active FAT = {active} of {fats}"));
            rootCluster = BinaryPrimitives.ReadUInt32LittleEndian(s[0x2C..]);
        }
        int labelAt = fat32 ? 0x47 : 0x2B;
        bool hasLabel = s[fat32 ? 0x42 : 0x26] == 0x29;
        return new FatBootSector
        {
            Kind = kind,
            BytesPerSector = bytesPerSector,
            ClusterSize = sectorsPerCluster * bytesPerSector,
            ClusterCount = (uint)clusters,
            FatOffset = ((long)reserved + (long)active * fatSectors) * bytesPerSector,
            FatLength = (long)fatSectors * bytesPerSector,
            RootRegionOffset = fat32 ? 0 : ((long)reserved + (long)fats * fatSectors) * bytesPerSector,
            RootEntryCount = fat32 ? 0 : rootEntries,
            RootCluster = rootCluster,
            HeapOffset = metaSectors * bytesPerSector,
            BootLabel = hasLabel ? LabelText(s.Slice(labelAt, 11)) : "",
        };
    }

    private static string LabelText(ReadOnlySpan<byte> raw)
    {
        string s = ShortNames.Decode(raw).TrimEnd(' ', '\0');
        return s == "NO NAME" ? "" : s;
    }
}
