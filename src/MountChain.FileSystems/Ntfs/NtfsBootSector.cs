using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>The geometry an NTFS boot sector declares, validated.</summary>
internal sealed record NtfsBootSector(int BytesPerSector, int ClusterSize, long TotalClusters, long MftLcn, int MftRecordSize, int IndexBlockSize, ulong SerialNumber)
{
    public static NtfsBootSector Parse(ReadOnlySpan<byte> s, long volumeLength)
    {
        if (s.Length < 512 || !s.Slice(BootSectorLayout.OemId, 8).SequenceEqual("NTFS    "u8))
            throw new FileSystemCorruptException("NTFS boot sector: missing \"NTFS\" signature");
        int bps = BinaryPrimitives.ReadUInt16LittleEndian(s[BootSectorLayout.BytesPerSector..]);
        if (bps is not (256 or 512 or 1024 or 2048 or 4096))
            throw new FileSystemCorruptException($"NTFS boot sector: bytes per sector {bps} is not a power of two in 256..4096");
        byte spcRaw = s[BootSectorLayout.SectorsPerCluster];
        // Above 0x80 the byte is 2^(256 - byte) sectors; a shift past 16 (over 2 MiB clusters, refused
        // below anyway) would wrap in 64 bits and make the cluster size 0.
        long spc = spcRaw <= 0x80 ? spcRaw : 256 - spcRaw <= 16 ? 1L << (256 - spcRaw) : 0;
        if (spc == 0 || (spc & (spc - 1)) != 0 || spc * bps > 2 * 1024 * 1024)
            throw new FileSystemCorruptException($"NTFS boot sector: sectors per cluster byte 0x{spcRaw:x2} is invalid");
        int clusterSize = (int)(spc * bps);
        long totalSectors = BinaryPrimitives.ReadInt64LittleEndian(s[BootSectorLayout.TotalSectors..]);
        if (totalSectors <= 0)
            throw new FileSystemCorruptException($"NTFS boot sector: total sectors {totalSectors} is invalid");
        // Clusters past the end of the device cannot be read: clamp so runlists pointing there are refused.
        long totalClusters = Math.Min(totalSectors / spc, volumeLength / clusterSize);
        long mftLcn = BinaryPrimitives.ReadInt64LittleEndian(s[BootSectorLayout.MftLcn..]);
        if (mftLcn <= 0 || mftLcn >= totalClusters)
            throw new FileSystemCorruptException($"NTFS boot sector: $MFT cluster {mftLcn} lies outside the {totalClusters}-cluster volume");
        int recordSize = SizeFromByte((sbyte)s[BootSectorLayout.ClustersPerMftRecord], clusterSize, "MFT record size");
        int indexSize = SizeFromByte((sbyte)s[BootSectorLayout.ClustersPerIndexBlock], clusterSize, "index block size");
        if (recordSize < 512 || recordSize > 65536 || recordSize % 512 != 0)
            throw new FileSystemCorruptException($"NTFS boot sector: MFT record size {recordSize} is invalid");
        ulong serial = BinaryPrimitives.ReadUInt64LittleEndian(s[BootSectorLayout.SerialNumber..]);
        return new NtfsBootSector(bps, clusterSize, totalClusters, mftLcn, recordSize, indexSize, serial);
    }

    /// <summary>Positive: that many clusters; negative: 2^-v bytes (layout.h NTFS_BOOT_SECTOR).</summary>
    private static int SizeFromByte(sbyte v, int clusterSize, string what)
    {
        long size = v > 0 ? (long)v * clusterSize : v < 0 && v >= -31 ? 1L << -v : 0;
        if (size < 256 || size > 1 << 24)
            throw new FileSystemCorruptException($"NTFS boot sector: {what} byte {v} is invalid");
        return (int)size;
    }
}
