using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Xfs;

/// <summary>
/// Symbolic link targets: inline in the data fork (local format) or in remote blocks; on v5 each
/// mapped extent starts with an xfs_dsymlink_hdr ("XSLM", offset, bytes, crc, uuid, owner, blkno, lsn)
/// ("Symbolic Links" in XFS Algorithms &amp; Data Structures).
/// </summary>
internal sealed class XfsSymlinkReader(XfsSuperblock sb, XfsMetadataReader metadata, XfsFileDataReader data)
{
    private const int MaxPathLength = 1024; // XFS_SYMLINK_MAXLEN
    private const uint RemoteMagic = 0x58534c4d; // "XSLM"
    private const int OffOffset = 4, OffBytes = 8, OffCrc = 12, OffOwner = 32, HeaderSize = 56;

    public string Read(XfsInode link)
    {
        if (link.Size <= 0 || link.Size > MaxPathLength) throw Corrupt(link, $"target length {link.Size}");
        int length = (int)link.Size;
        if (link.Format == XfsForkFormat.Local)
        {
            if (length > link.DataFork.Length) throw Corrupt(link, $"inline target of {length} bytes exceeds the data fork");
            return Encoding.UTF8.GetString(link.DataFork, 0, length);
        }
        if (link.Format is not (XfsForkFormat.Extents or XfsForkFormat.Btree)) throw Corrupt(link, $"data fork format {link.Format}");

        var target = new byte[length];
        if (!sb.HasCrc)
        {
            data.Read(link, target, 0, length);
            return Encoding.UTF8.GetString(target);
        }

        int copied = 0;
        foreach (var e in data.GetExtents(link))
        {
            if (copied >= length) break;
            long bytes = (long)e.BlockCount << sb.BlockLog;
            if (bytes > MaxPathLength + HeaderSize + sb.BlockSize) throw Corrupt(link, $"remote extent of {e.BlockCount} blocks is too long");
            byte[] buffer = metadata.Read(sb.BlockAddress(e.StartBlock, e.BlockCount, $"symlink inode {link.Number}"), (int)bytes);
            if (BinaryPrimitives.ReadUInt32BigEndian(buffer) != RemoteMagic) throw Corrupt(link, "remote block has bad magic");
            if (!XfsChecksum.IsValid(buffer, OffCrc)) throw Corrupt(link, "remote block CRC mismatch");
            if (BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(OffOwner)) != link.Number) throw Corrupt(link, "remote block belongs to another inode");
            uint offset = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(OffOffset));
            uint count = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(OffBytes));
            int expected = (int)Math.Min(bytes - HeaderSize, length - copied);
            if (offset != copied || count != expected) throw Corrupt(link, $"remote block covers {offset}+{count}, expected {copied}+{expected}");
            buffer.AsSpan(HeaderSize, expected).CopyTo(target.AsSpan(copied));
            copied += expected;
        }
        if (copied != length) throw Corrupt(link, $"remote blocks hold {copied} of {length} bytes");
        return Encoding.UTF8.GetString(target);
    }

    private static FileSystemCorruptException Corrupt(XfsInode link, string what) => new($"XFS symlink inode {link.Number}: {what}");
}
