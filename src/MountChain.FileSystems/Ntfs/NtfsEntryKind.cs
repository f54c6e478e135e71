using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>What a file record presents as, the way ntfs-3g shows it.</summary>
internal readonly record struct NtfsEntryKind(FsEntryType Type, string? LinkTarget);

/// <summary>
/// Classifies a file: reparse-point symlinks and junctions (MS-FSCC §2.1.2.4 / §2.1.2.5, WSL's
/// LX_SYMLINK), ntfs-3g's Interix files (system-flagged: "IntxLNK\1" + UTF-16 target is a symlink,
/// empty is a FIFO, one byte a socket, IntxCHR/IntxBLK devices), directories and regular files.
/// </summary>
internal static class NtfsEntryClassifier
{
    /// <summary>ntfs-3g only looks at Interix data up to this size (magic + PATH_MAX UTF-16 units).</summary>
    private const int MaxInterixBytes = 8 + 2 * 4096;

    public static NtfsEntryKind Classify(NtfsFile file, uint fileAttributes, AttributeReader reader)
    {
        string what = $"NTFS MFT record {file.Number}";
        var reparse = file.Find(AttributeType.ReparsePoint);
        if (reparse != null && (fileAttributes & FileAttributeFlags.ReparsePoint) != 0)
        {
            string? target = ReparseTarget(reparse, reader, what);
            if (target != null) return new NtfsEntryKind(FsEntryType.Symlink, target);
        }
        if (file.IsDirectory) return new NtfsEntryKind(FsEntryType.Directory, null);
        if (reparse != null && (fileAttributes & FileAttributeFlags.ReparsePoint) != 0)
            return new NtfsEntryKind(FsEntryType.Other, null);
        var data = file.Find(AttributeType.Data);
        if ((fileAttributes & FileAttributeFlags.System) != 0 && data != null && !data.IsCompressed && !data.IsEncrypted)
        {
            if (data.Length == 0 || data.Length == 1) return new NtfsEntryKind(FsEntryType.Other, null);
            if (data.Length > 8 && data.Length <= MaxInterixBytes)
            {
                var buf = new byte[data.Length];
                int n = reader.Read(data, buf, 0, what);
                var head = buf.AsSpan(0, n);
                if (head.StartsWith(ReparseLayout.InterixSymlink))
                    return new NtfsEntryKind(FsEntryType.Symlink, Encoding.Unicode.GetString(head[8..(8 + (n - 8) / 2 * 2)]).TrimEnd('\0'));
                if (head.StartsWith(ReparseLayout.InterixCharDevice) || head.StartsWith(ReparseLayout.InterixBlockDevice))
                    return new NtfsEntryKind(FsEntryType.Other, null);
            }
        }
        return new NtfsEntryKind(FsEntryType.File, null);
    }

    private static string? ReparseTarget(NtfsAttribute attr, AttributeReader reader, string what)
    {
        if (attr.Length > 16 * 1024 + 8) throw new FileSystemCorruptException($"{what}: reparse point of {attr.Length} bytes is absurd");
        var buf = new byte[attr.Length];
        int n = reader.Read(attr, buf, 0, what);
        var span = buf.AsSpan(0, n);
        if (span.Length < ReparseLayout.Data) return null;
        uint tag = BinaryPrimitives.ReadUInt32LittleEndian(span);
        int dataLength = BinaryPrimitives.ReadUInt16LittleEndian(span[ReparseLayout.DataLength..]);
        if (ReparseLayout.Data + dataLength > span.Length)
            throw new FileSystemCorruptException($"{what}: reparse data length {dataLength} overruns the attribute");
        var data = span.Slice(ReparseLayout.Data, dataLength);
        switch (tag)
        {
            case ReparseLayout.TagLxSymlink:
                // WSL: u32 version, then the UTF-8 target.
                return data.Length < 4 ? null : Encoding.UTF8.GetString(data[4..]);
            case ReparseLayout.TagSymlink:
            case ReparseLayout.TagMountPoint:
            {
                // Substitute/print name offsets and lengths, then (symlink only) u32 flags, then the path buffer.
                int headerSize = tag == ReparseLayout.TagSymlink ? 12 : 8;
                if (data.Length < headerSize) return null;
                int subOff = BinaryPrimitives.ReadUInt16LittleEndian(data);
                int subLen = BinaryPrimitives.ReadUInt16LittleEndian(data[2..]);
                int printOff = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
                int printLen = BinaryPrimitives.ReadUInt16LittleEndian(data[6..]);
                bool relative = tag == ReparseLayout.TagSymlink && (BinaryPrimitives.ReadUInt32LittleEndian(data[8..]) & ReparseLayout.SymlinkFlagRelative) != 0;
                var paths = data[headerSize..];
                int off = printLen > 0 ? printOff : subOff, len = printLen > 0 ? printLen : subLen;
                if (off + len > paths.Length)
                    throw new FileSystemCorruptException($"{what}: reparse point path overruns its buffer");
                string target = Encoding.Unicode.GetString(paths.Slice(off, len));
                if (target.StartsWith(@"\??\", StringComparison.Ordinal)) target = target[4..];
                target = target.Replace('\\', '/');
                _ = relative; // relative targets are used as they are; absolute ones keep their drive ("C:/...")
                return target;
            }
            default:
                return null;
        }
    }
}
