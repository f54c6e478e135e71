using System.Buffers.Binary;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Ntfs;

namespace MountChain.FileSystems.Volumes;

/// <summary>What a volume holds, found by its on-disk signature.</summary>
/// <param name="Note">Something a user must know about the volume (e.g. an ext journal that needs recovery), or empty.</param>
public sealed record DetectedFileSystem(string Kind, string Label, string Note = "")
{
    public static DetectedFileSystem Unknown { get; } = new("unknown", "");
}

/// <summary>
/// Recognises file systems by signature: ntfs, xfs, ext2/ext3/ext4, vfat, exfat, swap, LVM2_member.
/// Only reads the first few KiB (and, for NTFS, the $Volume record for its label).
/// </summary>
internal static class FileSystemDetector
{
    private const int ProbeSize = 8192;

    /// <summary>True when a boot sector (sector 0) is that of a file system, not an MBR.</summary>
    public static bool HasBootSectorFileSystem(ReadOnlySpan<byte> sector0) =>
        sector0.Length >= 512 && (sector0.Slice(3, 8).SequenceEqual("NTFS    "u8) || sector0.Slice(3, 8).SequenceEqual("EXFAT   "u8)
            || sector0.Slice(0x36, 5).SequenceEqual("FAT12"u8) || sector0.Slice(0x36, 5).SequenceEqual("FAT16"u8)
            || sector0.Slice(0x52, 5).SequenceEqual("FAT32"u8));

    public static DetectedFileSystem Detect(IBlockDevice volume)
    {
        int n = (int)Math.Min(ProbeSize, volume.Length);
        if (n < 512) return DetectedFileSystem.Unknown;
        var head = new byte[ProbeSize];
        volume.Read(head.AsSpan(0, n), 0);
        var h = head.AsSpan();

        if (h.Slice(3, 8).SequenceEqual("NTFS    "u8))
            return new DetectedFileSystem("ntfs", NtfsLabel(volume));
        if (h.Slice(3, 8).SequenceEqual("EXFAT   "u8))
            return new DetectedFileSystem("exfat", ReaderLabel(() => new Exfat.ExfatFileSystem(volume).Label) ?? "");
        if (h[..4].SequenceEqual("XFSB"u8))
            return new DetectedFileSystem("xfs", Ascii(h.Slice(108, 12)));
        if (n >= 2048 && BinaryPrimitives.ReadUInt16LittleEndian(h[(1024 + 56)..]) == 0xEF53)
        {
            // ext superblock at 1024: s_feature_compat 0x5C (has_journal 0x4), s_feature_incompat 0x60 (extents 0x40).
            uint compat = BinaryPrimitives.ReadUInt32LittleEndian(h[(1024 + 0x5C)..]);
            uint incompat = BinaryPrimitives.ReadUInt32LittleEndian(h[(1024 + 0x60)..]);
            // ext4 also when 64bit (0x80) or flex_bg (0x200) is on; 0x4 = needs_recovery (a journal not replayed).
            string kind = (incompat & 0x2C0) != 0 ? "ext4" : (compat & 0x4) != 0 ? "ext3" : "ext2";
            string note = (incompat & 0x4) != 0 ? "journal needs recovery: read as on disk, without replaying it" : "";
            return new DetectedFileSystem(kind, Ascii(h.Slice(1024 + 120, 16)), note);
        }
        if (h.Slice(0x52, 5).SequenceEqual("FAT32"u8))
            return new DetectedFileSystem("vfat", ReaderLabel(() => new Fat.FatFileSystem(volume).Label) ?? FatLabel(h.Slice(0x47, 11)));
        if (h.Slice(0x36, 5).SequenceEqual("FAT12"u8) || h.Slice(0x36, 5).SequenceEqual("FAT16"u8))
            return new DetectedFileSystem("vfat", ReaderLabel(() => new Fat.FatFileSystem(volume).Label) ?? FatLabel(h.Slice(0x2B, 11)));
        if (n >= 4096 && (h.Slice(4096 - 10, 10).SequenceEqual("SWAPSPACE2"u8) || h.Slice(4096 - 10, 10).SequenceEqual("SWAP-SPACE"u8)))
            return new DetectedFileSystem("swap", Ascii(h.Slice(1024 + 28, 16)));
        // LVM2 label: "LABELONE" in one of the first four sectors, "LVM2 001" at +24.
        for (int s = 0; s < 4 && (s + 1) * 512 <= n; s++)
            if (h.Slice(s * 512, 8).SequenceEqual("LABELONE"u8) && h.Slice(s * 512 + 24, 8).SequenceEqual("LVM2 001"u8))
                return new DetectedFileSystem("LVM2_member", "");
        return DetectedFileSystem.Unknown;
    }

    private static string NtfsLabel(IBlockDevice volume)
    {
        try
        {
            using var fs = new NtfsFileSystem(volume);
            return fs.Label;
        }
        catch (IOException) { return ""; }
    }

    /// <summary>The label a reader finds (FAT and exFAT keep it in the root directory), or null when the volume cannot be opened.</summary>
    private static string? ReaderLabel(Func<string> read)
    {
        try { return read(); }
        catch (IOException) { return null; }
    }

    private static string FatLabel(ReadOnlySpan<byte> raw)
    {
        string s = Ascii(raw).TrimEnd();
        return s == "NO NAME" ? "" : s;
    }

    private static string Ascii(ReadOnlySpan<byte> raw)
    {
        int nul = raw.IndexOf((byte)0);
        if (nul >= 0) raw = raw[..nul];
        return Encoding.UTF8.GetString(raw);
    }
}
