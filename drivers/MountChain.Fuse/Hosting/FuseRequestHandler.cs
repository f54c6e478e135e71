using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Hosting;

/// <summary>
/// The FUSE operations in managed terms: each takes paths and open files, asks the tree, and
/// returns 0 / a byte count, or a negated errno. The native trampolines (Native/FuseCallbacks)
/// only convert arguments and results. Called concurrently from libfuse's worker threads.
/// </summary>
internal sealed class FuseRequestHandler(IFileTree tree, FuseMountOptions options)
{
    // fcntl.h open flags and lseek/fallocate constants (Linux).
    private const int AccessModeMask = 3;       // O_ACCMODE
    private const int ReadOnlyAccess = 0;       // O_RDONLY
    private const int SeekData = 3;             // SEEK_DATA
    private const int SeekHole = 4;             // SEEK_HOLE
    private const int FallocKeepSize = 0x01;    // FALLOC_FL_KEEP_SIZE
    private const int FallocPunchHole = 0x02;   // FALLOC_FL_PUNCH_HOLE
    private const int FallocZeroRange = 0x10;   // FALLOC_FL_ZERO_RANGE

    private int _reportedErrors;

    public IFileTree Tree => tree;
    public FuseMountOptions Options => options;
    public uint OwnerUid { get; } = LibC.GetEffectiveUid();
    public uint OwnerGid { get; } = LibC.GetEffectiveGid();

    public int GetAttributes(string? path, IOpenFile? file, out FileNode? node)
    {
        node = null;
        try
        {
            node = file?.Node ?? tree.Find(path ?? TreePath.Root);
            return node is null ? -Errno.ENOENT : 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int ReadLink(string path, out string? target)
    {
        target = null;
        try
        {
            target = tree.ReadLink(path);
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int Open(string path, int flags, out IOpenFile? file)
    {
        file = null;
        try
        {
            file = tree.Open(path, (flags & AccessModeMask) != ReadOnlyAccess);
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int Read(IOpenFile file, Span<byte> buffer, long offset)
    {
        try { return file.Read(buffer, offset); }
        catch (Exception e) { return Fail(e); }
    }

    public int Write(IOpenFile file, ReadOnlySpan<byte> data, long offset)
    {
        try { return file.Write(data, offset); }
        catch (Exception e) { return Fail(e); }
    }

    public int Flush(IOpenFile file)
    {
        try
        {
            if (file.IsWritable) file.FlushIfDirty();
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int Fsync(IOpenFile file)
    {
        try
        {
            if (file.IsWritable) file.Flush();
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int Release(IOpenFile file)
    {
        try
        {
            file.Dispose();
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int StatFs(out VolumeInfo volume)
    {
        volume = default;
        try
        {
            volume = tree.Volume;
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    public int ReadDirectory(string path, out IReadOnlyList<FileNode>? entries, out FileNode? self)
    {
        entries = null;
        self = null;
        try
        {
            self = tree.Find(path);
            if (self is null) return -Errno.ENOENT;
            if (!self.IsDirectory) return -Errno.ENOTDIR;
            entries = tree.List(path);
            return 0;
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>fallocate(2) on the fixed-size file: punch hole → Discard, zero range → WriteZeroes, plain allocation inside the file → nothing to do.</summary>
    public int Fallocate(IOpenFile file, int mode, long offset, long length)
    {
        try
        {
            if (offset < 0 || length <= 0) return -Errno.EINVAL;
            long size = file.Node.Size;
            bool keepSize = (mode & FallocKeepSize) != 0;
            int operation = mode & ~FallocKeepSize;
            // Growing the file is impossible: a disk has a fixed size.
            if (!keepSize && offset + length > size) return -Errno.EOPNOTSUPP;
            switch (operation)
            {
                case 0:
                    return 0;
                case FallocPunchHole when keepSize: // fallocate(2): PUNCH_HOLE must be ORed with KEEP_SIZE
                    file.Discard(offset, length);
                    return 0;
                case FallocZeroRange:
                    file.WriteZeroes(offset, length);
                    return 0;
                default:
                    return -Errno.EOPNOTSUPP;
            }
        }
        catch (Exception e) { return Fail(e); }
    }

    public long Seek(IOpenFile file, long offset, int whence)
    {
        try
        {
            return whence switch
            {
                SeekData => file.SeekData(offset),
                SeekHole => file.SeekHole(offset),
                _ => -Errno.EINVAL,
            };
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>truncate: the disk cannot change size; truncating to its own size is accepted (O_TRUNC on an empty disk, tools that "set" the size).</summary>
    public int Truncate(string? path, IOpenFile? file, long size)
    {
        try
        {
            var node = file?.Node ?? tree.Find(path ?? TreePath.Root);
            if (node is null) return -Errno.ENOENT;
            if (node.IsDirectory) return -Errno.EISDIR;
            if (!node.Writable) return -Errno.EROFS;
            return size == node.Size ? 0 : -Errno.EPERM;
        }
        catch (Exception e) { return Fail(e); }
    }

    /// <summary>Creating, deleting, renaming, chmod...: the tree's shape is fixed.</summary>
    public int RefuseChange() => tree.CanWrite ? -Errno.EPERM : -Errno.EROFS;

    private int Fail(Exception e)
    {
        var error = FileTreeErrors.Classify(e);
        // Report the first few unexpected failures: an I/O error in a VMDK should be visible, not only an EIO.
        if (FileTreeErrors.IsUnexpected(error) && options.ErrorLog is { } log && Interlocked.Increment(ref _reportedErrors) <= 20)
        {
            try { log.WriteLine($"mountchain: {e.Message.ReplaceLineEndings(" ")}"); } catch { }
        }
        return -ErrnoMapping.ToErrno(error);
    }
}
