namespace MountChain.Fuse.Trees;

/// <summary>POSIX view of a <see cref="FileNode"/>: st_mode bits, link count, 512-byte blocks (stat(2)).</summary>
public static class UnixAttributes
{
    // <sys/stat.h> file type bits.
    public const uint TypeDirectory = 0x4000;   // S_IFDIR
    public const uint TypeRegular = 0x8000;     // S_IFREG
    public const uint TypeSymlink = 0xA000;     // S_IFLNK

    /// <summary>st_blocks counts 512-byte units whatever the block size (stat(2)).</summary>
    public const int StatBlockUnit = 512;

    public static uint Mode(FileNode node)
    {
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

    /// <summary>Directories count "." and the entry in their parent; files have one name.</summary>
    public static uint LinkCount(FileNode node) => node.IsDirectory ? 2u : 1u;

    public static long Blocks(FileNode node) => (node.AllocatedBytes + StatBlockUnit - 1) / StatBlockUnit;
}
