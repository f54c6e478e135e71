using System.Text;
using MountChain.Core.Errors;
using MountChain.Core.Formats.Grains;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// Creates a new monolithicSparse file with an embedded descriptor, laid out like qemu's (format
/// doc §2.4, §2.7): header, descriptor, RGD, all RGTs, GD, all GTs, our intent journal (§2.10, in
/// the space before overHead that the format leaves unused), padding to a grain boundary;
/// tables preallocated (zero) so no writer ever meets a GD entry of 0. Written under a temporary
/// name, synced, then renamed, so a crash never leaves a half-made file under the real name.
/// </summary>
internal static class SparseFileCreator
{
    public const ulong GrainSectors = 128;
    public const uint GtesPerGt = 512;
    private const ulong GtSectors = GtesPerGt * sizeof(uint) / Sector.Size;
    private const ulong DescriptorOffset = 1;
    /// <summary>qemu's descriptor region: 20 sectors (10 KiB), larger only if the text needs it.</summary>
    private const ulong MinDescriptorSectors = 20;

    /// <summary>Writes the file; <paramref name="descriptor"/> is the embedded descriptor text.</summary>
    /// <param name="zeroedGrains">Version 2 with flag bit 2 (GTE 1 = zeroed grain), else version 1 (flags 0x3).</param>
    public static void Create(string path, long capacitySectors, string descriptor, bool zeroedGrains)
    {
        if (capacitySectors <= 0)
            throw new ArgumentOutOfRangeException(nameof(capacitySectors), "capacity must be positive");
        if (File.Exists(path) || Directory.Exists(path))
            throw new OperationRefusedException(path, "already exists; refusing to overwrite it");
        byte[] text = Encoding.UTF8.GetBytes(descriptor);
        ulong descriptorSectors = Math.Max(MinDescriptorSectors, (ulong)Sector.CeilingOf(text.Length) + 2);
        ulong capacity = (ulong)capacitySectors;
        ulong tables = (capacity + GtesPerGt * GrainSectors - 1) / (GtesPerGt * GrainSectors);
        ulong gdSectors = (ulong)Sector.CeilingOf((long)tables * sizeof(uint));
        ulong rgd = DescriptorOffset + descriptorSectors;
        ulong firstRgt = rgd + gdSectors;
        ulong gd = firstRgt + tables * GtSectors;
        ulong firstGt = gd + gdSectors;
        ulong journal = (ulong)IntentJournalLayout.RegionStartAfter((long)(firstGt + tables * GtSectors));
        ulong overHead = (journal + (ulong)IntentJournalLayout.RegionSectors + GrainSectors - 1) / GrainSectors * GrainSectors;
        ulong grains = (capacity + GrainSectors - 1) / GrainSectors;
        if (overHead + grains * GrainSectors > 1UL << 32)
            throw new UnsupportedFeatureException(path, $"a {capacity}-sector disk does not fit one hosted sparse file (2 TiB limit, format doc §10.1); split redo logs are not supported");

        var header = new SparseExtentHeader
        {
            Version = zeroedGrains ? 2u : 1u,
            Flags = SparseFlags.ValidNewlineDetector | SparseFlags.UseRedundant | (zeroedGrains ? SparseFlags.ZeroedGrainGte : 0),
            Capacity = capacity,
            GrainSize = GrainSectors,
            DescriptorOffset = DescriptorOffset,
            DescriptorSize = descriptorSectors,
            NumGtesPerGt = GtesPerGt,
            RgdOffset = rgd,
            GdOffset = gd,
            OverHead = overHead,
            UncleanShutdown = false,
            CompressAlgorithm = 0,
        };

        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.mc-creating-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var file = new WritableFile(temporary, create: true))
            {
                var head = new byte[(int)(rgd * Sector.Size)];
                header.WriteTo(head);
                text.CopyTo(head, (int)(DescriptorOffset * Sector.Size));
                file.Write(head, 0);
                file.Write(DirectoryBytes(tables, firstRgt, gdSectors), (long)rgd * Sector.Size);
                file.Write(DirectoryBytes(tables, firstGt, gdSectors), (long)gd * Sector.Size);
                // The tables are written as real zeros, not left as a hole (qemu truncates): a later
                // table update then never needs new blocks, so a full file system cannot fail a flush.
                WriteZeros(file, (long)firstRgt * Sector.Size, (long)(tables * GtSectors) * Sector.Size);
                WriteZeros(file, (long)firstGt * Sector.Size, (long)(tables * GtSectors) * Sector.Size);
                IntentJournal.Format(file, (long)journal);
                file.SetLength((long)overHead * Sector.Size);
                file.Sync();
            }
            File.Move(temporary, path, overwrite: false);
            WritableFile.SyncDirectory(directory);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { }
            throw;
        }
    }

    private static void WriteZeros(WritableFile file, long offset, long length)
    {
        var zeros = new byte[(int)Math.Min(length, 1 << 20)];
        for (long done = 0; done < length; done += zeros.Length)
            file.Write(zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - done)), offset + done);
    }

    /// <summary>A directory of <paramref name="tables"/> entries naming consecutive tables from <paramref name="firstTable"/>, padded to whole sectors.</summary>
    private static byte[] DirectoryBytes(ulong tables, ulong firstTable, ulong gdSectors)
    {
        var entries = new uint[gdSectors * Sector.Size / sizeof(uint)];
        for (ulong i = 0; i < tables; i++) entries[i] = (uint)(firstTable + i * GtSectors);
        var bytes = new byte[gdSectors * Sector.Size];
        TableEntries.Encode<uint>(entries, bytes);
        return bytes;
    }
}
