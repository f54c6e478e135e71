using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Hosting;

/// <summary>The errno each <see cref="FileTreeError"/> becomes on Linux (returned negated to libfuse).</summary>
public static class ErrnoMapping
{
    public static int ToErrno(FileTreeError error) => error switch
    {
        FileTreeError.NotFound => Errno.ENOENT,
        FileTreeError.NotADirectory => Errno.ENOTDIR,
        FileTreeError.IsADirectory => Errno.EISDIR,
        FileTreeError.ReadOnly => Errno.EROFS,
        FileTreeError.NotPermitted => Errno.EPERM,
        FileTreeError.InvalidArgument => Errno.EINVAL,
        FileTreeError.NoData => Errno.ENXIO,
        FileTreeError.NoSpace => Errno.ENOSPC,
        FileTreeError.NotSupported => Errno.EOPNOTSUPP,
        _ => Errno.EIO,
    };

    public static int ToErrno(Exception e) => ToErrno(FileTreeErrors.Classify(e));
}
