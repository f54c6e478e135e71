using System.Buffers.Binary;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Exfat;

/// <summary>
/// The exFAT main boot region (sectors 0–11: boot sector, 8 extended boot sectors, OEM parameters,
/// reserved, checksum sector) or, when its checksum fails, the backup region (sectors 12–23). The
/// checksum covers sectors 0–10 except VolumeFlags (bytes 106–107) and PercentInUse (byte 112).
/// </summary>
internal sealed record ExfatBootRegion
{
    public required int SectorSize { get; init; }
    public required int ClusterSize { get; init; }
    public required long FatOffset { get; init; }
    public required long FatLength { get; init; }
    public required long HeapOffset { get; init; }
    public required uint ClusterCount { get; init; }
    public required uint RootCluster { get; init; }
    /// <summary>0 or 1: which FAT and allocation bitmap are in use (TexFAT keeps two).</summary>
    public required int ActiveFat { get; init; }

    private const int RegionSectors = 12;

    public static ExfatBootRegion Read(IBlockDevice device, string volume)
    {
        var first = new byte[512];
        if (device.Length < 512) throw new FileSystemCorruptException($"{volume}: smaller than one sector");
        device.Read(first, 0);
        int shift = first[108];
        if (shift is < 9 or > 12) throw new FileSystemCorruptException($"{volume}: boot sector field BytesPerSectorShift = {shift} (9–12)");
        int sectorSize = 1 << shift;
        if ((long)sectorSize * RegionSectors * 2 > device.Length) throw new FileSystemCorruptException($"{volume}: smaller than its two boot regions");
        var region = new byte[sectorSize * RegionSectors];
        string? problem = null;
        foreach (int start in new[] { 0, RegionSectors })
        {
            device.Read(region, (long)start * sectorSize);
            problem = ChecksumProblem(region, sectorSize);
            if (problem == null) return Parse(region.AsSpan(0, sectorSize), device.Length, volume);
        }
        throw new FileSystemCorruptException($"{volume}: boot region checksum mismatch in the main and the backup region ({problem})");
    }

    private static string? ChecksumProblem(byte[] region, int sectorSize)
    {
        if (!region.AsSpan(3, 8).SequenceEqual("EXFAT   "u8)) return "no EXFAT signature";
        uint sum = 0;
        for (int i = 0; i < sectorSize * 11; i++)
        {
            if (i is 106 or 107 or 112) continue;
            sum = ((sum & 1) != 0 ? 0x80000000u : 0) + (sum >> 1) + region[i];
        }
        var check = region.AsSpan(sectorSize * 11, sectorSize);
        for (int i = 0; i < sectorSize; i += 4)
        {
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(check[i..]);
            if (stored != sum) return $"computed 0x{sum:X8}, stored 0x{stored:X8}";
        }
        return null;
    }

    private static ExfatBootRegion Parse(ReadOnlySpan<byte> s, long deviceLength, string volume)
    {
        string Bad(string what) => $"{volume}: boot sector field {what}";
        int sectorShift = s[108], clusterShift = s[109], fats = s[110];
        ulong volumeLength = BinaryPrimitives.ReadUInt64LittleEndian(s[72..]);
        uint fatOffset = BinaryPrimitives.ReadUInt32LittleEndian(s[80..]);
        uint fatLength = BinaryPrimitives.ReadUInt32LittleEndian(s[84..]);
        uint heapOffset = BinaryPrimitives.ReadUInt32LittleEndian(s[88..]);
        uint clusterCount = BinaryPrimitives.ReadUInt32LittleEndian(s[92..]);
        uint rootCluster = BinaryPrimitives.ReadUInt32LittleEndian(s[96..]);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(s[106..]);
        if (sectorShift + clusterShift > 25) throw new FileSystemCorruptException(Bad($"SectorsPerClusterShift = {clusterShift} (clusters of at most 32 MiB)"));
        if (fats is not (1 or 2)) throw new FileSystemCorruptException(Bad($"NumberOfFats = {fats} (1 or 2)"));
        if (fatOffset < 24) throw new FileSystemCorruptException(Bad($"FatOffset = {fatOffset} (at least 24)"));
        if (fatLength == 0 || (ulong)fatLength * ((ulong)1 << sectorShift) < ((ulong)clusterCount + 2) * 4)
            throw new FileSystemCorruptException(Bad($"FatLength = {fatLength} sectors, too small for {clusterCount} clusters"));
        if (heapOffset < (ulong)fatOffset + (ulong)fatLength * (ulong)fats) throw new FileSystemCorruptException(Bad($"ClusterHeapOffset = {heapOffset} overlaps the FAT"));
        if (clusterCount == 0 || clusterCount > 0xFFFFFFF5) throw new FileSystemCorruptException(Bad($"ClusterCount = {clusterCount}"));
        ulong heapEnd = heapOffset + ((ulong)clusterCount << clusterShift);
        if (heapEnd > volumeLength) throw new FileSystemCorruptException(Bad($"ClusterCount = {clusterCount}: the heap ends past VolumeLength = {volumeLength}"));
        if ((heapEnd << sectorShift) > (ulong)deviceLength)
            throw new FileSystemCorruptException($"{volume}: the file system ({heapEnd << sectorShift} bytes of cluster heap) is larger than its {deviceLength}-byte volume");
        if (rootCluster < 2 || rootCluster - 2 >= clusterCount) throw new FileSystemCorruptException(Bad($"FirstClusterOfRootDirectory = {rootCluster}, outside the volume"));
        int active = fats == 2 ? flags & 1 : 0;
        return new ExfatBootRegion
        {
            SectorSize = 1 << sectorShift,
            ClusterSize = 1 << (sectorShift + clusterShift),
            FatOffset = ((long)fatOffset + (long)active * fatLength) << sectorShift,
            FatLength = (long)fatLength << sectorShift,
            HeapOffset = (long)heapOffset << sectorShift,
            ClusterCount = clusterCount,
            RootCluster = rootCluster,
            ActiveFat = active,
        };
    }
}
