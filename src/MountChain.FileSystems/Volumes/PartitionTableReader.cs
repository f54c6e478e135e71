using System.Buffers.Binary;
using System.Text;
using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Volumes;

/// <summary>
/// Reads the partition table of a disk: GPT (primary, else the backup at the end), MBR with
/// extended/logical chains, or none (the whole disk is p0). Every offset and count read from the
/// disk is checked against the disk size before use.
/// </summary>
internal static class PartitionTableReader
{
    private const int SectorSize = 512;

    public static PartitionTable Read(IBlockDevice disk)
    {
        var warnings = new List<string>();
        if (disk.Length < SectorSize) return WholeDisk(disk);
        var mbr = new byte[SectorSize];
        disk.Read(mbr, 0);
        bool hasMbrSignature = mbr[MbrLayout.SignatureOffset] == 0x55 && mbr[MbrLayout.SignatureOffset + 1] == 0xAA;

        // GPT: try 512- and 4096-byte logical sectors (UEFI §5.3.1: header is at LBA 1).
        foreach (int sector in new[] { 512, 4096 })
        {
            var gpt = GptReader.TryRead(disk, sector, warnings);
            if (gpt != null) return new PartitionTable(PartitionScheme.Gpt, gpt, warnings);
        }
        bool protective = hasMbrSignature && Enumerable.Range(0, 4).Any(i => mbr[MbrLayout.TableOffset + i * MbrLayout.EntrySize + MbrLayout.TypeOffset] == MbrLayout.ProtectiveGpt);
        if (protective)
            throw new PartitionTableException("protective MBR found but neither the primary nor the backup GPT header is valid");

        if (hasMbrSignature && !FileSystemDetector.HasBootSectorFileSystem(mbr) && MbrReader.LooksLikeMbr(mbr, disk.Length))
            return new PartitionTable(PartitionScheme.Mbr, MbrReader.Read(disk, mbr), warnings);
        return WholeDisk(disk);
    }

    private static PartitionTable WholeDisk(IBlockDevice disk) =>
        new(PartitionScheme.None, [new Partition { Number = 0, Scheme = PartitionScheme.None, Offset = 0, Length = disk.Length }], []);
}

/// <summary>GUID Partition Table (UEFI spec §5.3).</summary>
internal static class GptReader
{
    /// <summary>The partitions, or null when neither header is a GPT header at this sector size.</summary>
    public static List<Partition>? TryRead(IBlockDevice disk, int sector, List<string> warnings)
    {
        long lastLba = disk.Length / sector - 1;
        if (lastLba < 2) return null;
        string? primaryProblem = null;
        var header = ReadHeader(disk, sector, 1);
        if (header != null)
        {
            try { return ReadEntries(disk, sector, header, "primary"); }
            catch (PartitionTableException e) { primaryProblem = e.Message; }
        }
        // UEFI §5.3.2: on a bad primary, use the backup header in the disk's last LBA.
        var backup = ReadHeader(disk, sector, lastLba);
        if (backup == null)
        {
            if (primaryProblem != null) throw new PartitionTableException(primaryProblem + "; backup GPT header is missing or invalid");
            if (header == null && HasSignature(disk, sector, 1))
                throw new PartitionTableException("primary GPT header at LBA 1 fails its CRC32 check and the backup at the last LBA is missing or invalid");
            return null;
        }
        var result = ReadEntries(disk, sector, backup, "backup");
        warnings.Add(primaryProblem ?? "primary GPT header is invalid; using the backup header at the end of the disk");
        return result;
    }

    private static bool HasSignature(IBlockDevice disk, int sector, long lba)
    {
        Span<byte> sig = stackalloc byte[8];
        disk.Read(sig, lba * sector);
        return sig.SequenceEqual(GptLayout.Signature);
    }

    /// <summary>The header bytes when the signature and header CRC are right, else null.</summary>
    private static byte[]? ReadHeader(IBlockDevice disk, int sector, long lba)
    {
        var buf = new byte[sector];
        disk.Read(buf, lba * sector);
        if (!buf.AsSpan(0, 8).SequenceEqual(GptLayout.Signature)) return null;
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(GptLayout.HeaderSizeOffset));
        if (size < GptLayout.MinHeaderSize || size > sector) return null;
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(GptLayout.HeaderCrcOffset));
        var copy = buf.AsSpan(0, (int)size).ToArray();
        copy.AsSpan(GptLayout.HeaderCrcOffset, 4).Clear();
        if (Crc32.Compute(copy) != stored) return null;
        if (BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(GptLayout.MyLbaOffset)) != (ulong)lba) return null;
        return buf;
    }

    private static List<Partition> ReadEntries(IBlockDevice disk, int sector, byte[] header, string which)
    {
        ulong entriesLba = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(GptLayout.EntriesLbaOffset));
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(GptLayout.EntryCountOffset));
        uint entrySize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(GptLayout.EntrySizeOffset));
        uint entriesCrc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(GptLayout.EntriesCrcOffset));
        if (count > GptLayout.MaxEntries || entrySize < GptLayout.MinEntrySize || entrySize > GptLayout.MaxEntrySize || entrySize % 8 != 0)
            throw new PartitionTableException($"{which} GPT header: absurd partition entry array ({count} entries of {entrySize} bytes)");
        long bytes = (long)count * entrySize;
        if (entriesLba > (ulong)(disk.Length / sector) || (long)entriesLba * sector > disk.Length - bytes)
            throw new PartitionTableException($"{which} GPT header: partition entry array at LBA {entriesLba} lies outside the disk");
        var entries = new byte[bytes];
        disk.Read(entries, (long)entriesLba * sector);
        if (Crc32.Compute(entries) != entriesCrc)
            throw new PartitionTableException($"{which} GPT partition entry array fails its CRC32 check");

        var result = new List<Partition>();
        long diskSectors = disk.Length / sector;
        for (int i = 0; i < count; i++)
        {
            var e = entries.AsSpan((int)(i * entrySize), (int)entrySize);
            var type = new Guid(e.Slice(GptLayout.EntryTypeGuid, 16));
            if (type == Guid.Empty) continue;
            ulong first = BinaryPrimitives.ReadUInt64LittleEndian(e[GptLayout.EntryFirstLba..]);
            ulong last = BinaryPrimitives.ReadUInt64LittleEndian(e[GptLayout.EntryLastLba..]);
            if (last < first || last >= (ulong)diskSectors)
                throw new PartitionTableException($"{which} GPT entry {i + 1}: LBA range {first}..{last} lies outside the {diskSectors}-sector disk");
            string name = Encoding.Unicode.GetString(e.Slice(GptLayout.EntryName, GptLayout.EntryNameBytes)).TrimEnd('\0');
            int nul = name.IndexOf('\0');
            if (nul >= 0) name = name[..nul];
            result.Add(new Partition
            {
                Number = i + 1,
                Scheme = PartitionScheme.Gpt,
                Offset = (long)first * sector,
                Length = (long)(last - first + 1) * sector,
                TypeId = type.ToString(),
                PartitionLabel = name,
            });
        }
        return result;
    }
}

/// <summary>Classic MBR with extended/logical chains (EBRs).</summary>
internal static class MbrReader
{
    private const int Sector = 512;

    /// <summary>Status bytes 0x00/0x80 and entries inside the disk: tells an MBR from boot code that merely ends in 55 AA.</summary>
    public static bool LooksLikeMbr(ReadOnlySpan<byte> mbr, long diskLength)
    {
        bool any = false;
        for (int i = 0; i < 4; i++)
        {
            var e = mbr.Slice(MbrLayout.TableOffset + i * MbrLayout.EntrySize, MbrLayout.EntrySize);
            byte status = e[MbrLayout.StatusOffset];
            if (status != 0 && status != 0x80) return false;
            if (e[MbrLayout.TypeOffset] == 0) continue;
            any = true;
        }
        return any;
    }

    public static List<Partition> Read(IBlockDevice disk, byte[] mbr)
    {
        var result = new List<Partition>();
        long diskSectors = disk.Length / Sector;
        long extendedStart = -1, extendedLength = 0;
        for (int i = 0; i < 4; i++)
        {
            var e = mbr.AsSpan(MbrLayout.TableOffset + i * MbrLayout.EntrySize, MbrLayout.EntrySize);
            byte type = e[MbrLayout.TypeOffset];
            if (type == 0) continue;
            long start = BinaryPrimitives.ReadUInt32LittleEndian(e[MbrLayout.StartLbaOffset..]);
            long count = BinaryPrimitives.ReadUInt32LittleEndian(e[MbrLayout.SectorCountOffset..]);
            if (start == 0 || count == 0 || start + count > diskSectors)
                throw new PartitionTableException($"MBR entry {i + 1}: sectors {start}+{count} lie outside the {diskSectors}-sector disk");
            bool extended = MbrLayout.IsExtended(type);
            if (extended)
            {
                if (extendedStart >= 0) throw new PartitionTableException("MBR has more than one extended partition");
                extendedStart = start;
                extendedLength = count;
            }
            result.Add(new Partition
            {
                Number = i + 1, Scheme = PartitionScheme.Mbr, Offset = start * Sector, Length = count * Sector,
                TypeId = $"0x{type:x2}", IsExtendedContainer = extended,
            });
        }
        if (extendedStart >= 0) ReadLogicals(disk, extendedStart, extendedLength, result);
        return result;
    }

    /// <summary>
    /// Walks the EBR chain: entry 1 of each EBR is the logical partition (relative to that EBR),
    /// entry 2 links to the next EBR (relative to the extended partition's start).
    /// </summary>
    private static void ReadLogicals(IBlockDevice disk, long extStart, long extLength, List<Partition> result)
    {
        var ebr = new byte[Sector];
        var visited = new HashSet<long>();
        long ebrSector = extStart;
        int number = 5;
        while (true)
        {
            if (!visited.Add(ebrSector))
                throw new PartitionTableException($"EBR chain loops back to sector {ebrSector}");
            if (visited.Count > MbrLayout.MaxLogical)
                throw new PartitionTableException($"EBR chain has more than {MbrLayout.MaxLogical} logical partitions");
            disk.Read(ebr, ebrSector * Sector);
            if (ebr[MbrLayout.SignatureOffset] != 0x55 || ebr[MbrLayout.SignatureOffset + 1] != 0xAA)
                throw new PartitionTableException($"EBR at sector {ebrSector} lacks the 55 AA signature");
            var logical = ebr.AsSpan(MbrLayout.TableOffset, MbrLayout.EntrySize);
            var next = ebr.AsSpan(MbrLayout.TableOffset + MbrLayout.EntrySize, MbrLayout.EntrySize);
            byte type = logical[MbrLayout.TypeOffset];
            if (type != 0)
            {
                long start = ebrSector + BinaryPrimitives.ReadUInt32LittleEndian(logical[MbrLayout.StartLbaOffset..]);
                long count = BinaryPrimitives.ReadUInt32LittleEndian(logical[MbrLayout.SectorCountOffset..]);
                if (count == 0 || start < extStart || start + count > extStart + extLength)
                    throw new PartitionTableException($"logical partition p{number} (EBR at sector {ebrSector}): sectors {start}+{count} lie outside the extended partition");
                result.Add(new Partition
                {
                    Number = number++, Scheme = PartitionScheme.Mbr, Offset = start * Sector, Length = count * Sector,
                    TypeId = $"0x{type:x2}",
                });
            }
            if (next[MbrLayout.TypeOffset] == 0) return;
            long rel = BinaryPrimitives.ReadUInt32LittleEndian(next[MbrLayout.StartLbaOffset..]);
            if (rel == 0 || rel >= extLength)
                throw new PartitionTableException($"EBR at sector {ebrSector}: next EBR at relative sector {rel} lies outside the extended partition");
            ebrSector = extStart + rel;
        }
    }
}
