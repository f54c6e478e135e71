namespace MountChain.Mounting.Trees;

/// <summary>POSIX view of a <see cref="FileNode"/>: st_mode bits, link count, 512-byte blocks (stat(2)).</summary>
public static class UnixAttributes
{
    // <sys/stat.h> file type bits.
    public const uint TypeDirectory = 0x4000;   // S_IFDIR
    public const uint TypeRegular = 0x8000;     // S_IFREG
    public const uint TypeSymlink = 0xA000;     // S_IFLNK

    /// <summary>st_blocks counts 512-byte units whatever the block size (stat(2)).</summary>
    public const int StatBlockUnit = 512;

    public const uint TypeMask = 0xF000;        // S_IFMT
    public const uint PermissionMask = 0xFFF;   // permission, setuid/setgid and sticky bits

    public static uint Mode(FileNode node)
    {
        // A mode stored on disk is shown as is (like a kernel "ro" mount: the w bits stay, writes fail with EROFS),
        // but only when its type agrees with the node's kind.
        if (node.UnixMode is uint stored && TypeMatches(stored & TypeMask, node.Kind))
            return stored & (TypeMask | PermissionMask);
        uint permissions = node.Kind switch
        {
            NodeKind.Directory => node.Writable ? 0x1EDu /* 0755 */ : 0x16Du /* 0555 */,
            NodeKind.SymbolicLink => 0x1FFu /* 0777 */,
            _ => node.Writable ? 0x1A4u /* 0644 */ : 0x124u /* 0444 */,
        };
        uint type = node.Kind switch
        {
            NodeKind.Directory => TypeDirectory,
            NodeKind.SymbolicLink => TypeSymlink,
            _ => TypeRegular,
        };
        return type | permissions;
    }

    /// <summary>The on-disk count when known; else directories count "." and the entry in their parent, files one name.</summary>
    public static uint LinkCount(FileNode node) => node.LinkCount is uint n and > 0 ? n : node.IsDirectory ? 2u : 1u;

    /// <summary>Owner shown by stat: the on-disk ids when the server runs as root (like a kernel mount); otherwise the serving user, who could not read their own mount else.</summary>
    public static (uint Uid, uint Gid) Owner(FileNode node, uint serverUid, uint serverGid) =>
        serverUid == 0 ? (node.OwnerId ?? serverUid, node.GroupId ?? serverGid) : (serverUid, serverGid);

    private static bool TypeMatches(uint type, NodeKind kind) => kind switch
    {
        NodeKind.Directory => type == TypeDirectory,
        NodeKind.RegularFile => type == TypeRegular,
        NodeKind.SymbolicLink => type == TypeSymlink,
        // FIFO, character/block device, socket (sys/stat.h S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK).
        _ => type is 0x1000 or 0x2000 or 0x6000 or 0xC000,
    };

    public static long Blocks(FileNode node) => (node.AllocatedBytes + StatBlockUnit - 1) / StatBlockUnit;
}
