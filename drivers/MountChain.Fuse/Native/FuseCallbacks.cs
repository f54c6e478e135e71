using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using System.Text;
using MountChain.Fuse.Hosting;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Native;

/// <summary>
/// The <c>struct fuse_operations</c> entries: unmanaged entry points that find the mount's
/// <see cref="FuseRequestHandler"/> (a GCHandle in fuse_context.private_data), convert C
/// arguments, and convert the result back. Open files travel in fuse_file_info.fh as GCHandles.
/// No exception may cross into libfuse, so every entry point catches everything.
/// </summary>
internal static unsafe class FuseCallbacks
{
    private const int NameBufferSize = 1024;

    /// <summary>The operations table with every entry point we implement.</summary>
    public static FuseOperations Table()
    {
        var ops = new FuseOperations
        {
            Getattr = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, FuseFileInfo*, int>)&GetAttr,
            Readlink = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, nuint, int>)&ReadLink,
            Mknod = (nint)(delegate* unmanaged[Cdecl]<byte*, uint, ulong, int>)&Mknod,
            Mkdir = (nint)(delegate* unmanaged[Cdecl]<byte*, uint, int>)&Mkdir,
            Unlink = (nint)(delegate* unmanaged[Cdecl]<byte*, int>)&RemovePath,
            Rmdir = (nint)(delegate* unmanaged[Cdecl]<byte*, int>)&RemovePath,
            Symlink = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, int>)&TwoPaths,
            Rename = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, uint, int>)&Rename,
            Link = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, int>)&TwoPaths,
            Chmod = (nint)(delegate* unmanaged[Cdecl]<byte*, uint, FuseFileInfo*, int>)&Chmod,
            Chown = (nint)(delegate* unmanaged[Cdecl]<byte*, uint, uint, FuseFileInfo*, int>)&Chown,
            Truncate = (nint)(delegate* unmanaged[Cdecl]<byte*, long, FuseFileInfo*, int>)&Truncate,
            Open = (nint)(delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int>)&Open,
            Read = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, nuint, long, FuseFileInfo*, int>)&Read,
            Write = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, nuint, long, FuseFileInfo*, int>)&Write,
            Statfs = (nint)(delegate* unmanaged[Cdecl]<byte*, byte*, int>)&StatFs,
            Flush = (nint)(delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int>)&Flush,
            Release = (nint)(delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int>)&Release,
            Fsync = (nint)(delegate* unmanaged[Cdecl]<byte*, int, FuseFileInfo*, int>)&Fsync,
            Opendir = (nint)(delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int>)&OpenDir,
            Readdir = (nint)(delegate* unmanaged[Cdecl]<byte*, void*, nint, long, FuseFileInfo*, int, int>)&ReadDir,
            Releasedir = (nint)(delegate* unmanaged[Cdecl]<byte*, FuseFileInfo*, int>)&ReleaseDir,
            Init = (nint)(delegate* unmanaged[Cdecl]<FuseConnInfo*, FuseConfig*, nint>)&Init,
            Create = (nint)(delegate* unmanaged[Cdecl]<byte*, uint, FuseFileInfo*, int>)&Create,
            Utimens = (nint)(delegate* unmanaged[Cdecl]<byte*, void*, FuseFileInfo*, int>)&Utimens,
            Fallocate = (nint)(delegate* unmanaged[Cdecl]<byte*, int, long, long, FuseFileInfo*, int>)&Fallocate,
            Lseek = (nint)(delegate* unmanaged[Cdecl]<byte*, long, int, FuseFileInfo*, long>)&Lseek,
        };
        return ops;
    }

    private static FuseRequestHandler Handler =>
        (FuseRequestHandler)GCHandle.FromIntPtr(LibFuse.GetContext()->PrivateData).Target!;

    private static IOpenFile? FileOf(FuseFileInfo* fi) =>
        fi == null || fi->Handle == 0 ? null : GCHandle.FromIntPtr((nint)fi->Handle).Target as IOpenFile;

    /// <summary>An open directory: its path, because with nullpath_ok libfuse may call readdir without one.</summary>
    private sealed record OpenDirectory(string Path);

    private static string? PathOf(byte* path) => path == null ? null : Utf8StringMarshaller.ConvertToManaged(path);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Init(FuseConnInfo* conn, FuseConfig* cfg)
    {
        var context = LibFuse.GetContext();
        try
        {
            var options = Handler.Options;
            // Must equal -o max_read, or libfuse refuses the session.
            conn->MaxRead = (uint)options.MaxRead;
            conn->Want &= ~LibFuse.CapSpliceRead;
            if ((conn->Capable & LibFuse.CapAsyncDio) != 0) conn->Want |= LibFuse.CapAsyncDio;
            double timeout = options.AttributeTimeout.TotalSeconds;
            cfg->EntryTimeout = timeout;
            cfg->AttrTimeout = timeout;
            cfg->NegativeTimeout = timeout;
            cfg->UseIno = 1;
            // Calls on open files get a null path: we use fh, so libfuse need not rebuild paths.
            cfg->NullpathOk = 1;
        }
        catch { }
        // The return value becomes fuse_context.private_data for every later call.
        return context->PrivateData;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int GetAttr(byte* path, byte* stat, FuseFileInfo* fi)
    {
        try
        {
            var handler = Handler;
            int r = handler.GetAttributes(PathOf(path), FileOf(fi), out var node);
            if (r == 0) StatBuffer.WriteStat(stat, node!, handler.OwnerUid, handler.OwnerGid);
            return r;
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadLink(byte* path, byte* buffer, nuint size)
    {
        try
        {
            int r = Handler.ReadLink(PathOf(path)!, out var target);
            if (r != 0) return r;
            if (size == 0) return -Errno.EINVAL;
            // readlink in fuse.h: NUL-terminated, truncated to fit.
            var dest = new Span<byte>(buffer, (int)Math.Min(size, int.MaxValue));
            int n = Encoding.UTF8.GetBytes(target.AsSpan(0, Math.Min(target!.Length, dest.Length - 1)), dest[..^1]);
            dest[n] = 0;
            return 0;
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Open(byte* path, FuseFileInfo* fi)
    {
        try
        {
            var handler = Handler;
            int r = handler.Open(PathOf(path)!, fi->Flags, out var file);
            if (r != 0) return r;
            fi->Handle = (ulong)GCHandle.ToIntPtr(GCHandle.Alloc(file));
            if (handler.Options.DirectIo) fi->Bits |= FuseFileInfo.DirectIoBit;
            else if (handler.Options.KeepCache) fi->Bits |= FuseFileInfo.KeepCacheBit;
            return 0;
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Read(byte* path, byte* buffer, nuint size, long offset, FuseFileInfo* fi)
    {
        try
        {
            var file = FileOf(fi);
            if (file is null) return -Errno.EBADF;
            return Handler.Read(file, new Span<byte>(buffer, (int)Math.Min(size, int.MaxValue)), offset);
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Write(byte* path, byte* data, nuint size, long offset, FuseFileInfo* fi)
    {
        try
        {
            var file = FileOf(fi);
            if (file is null) return -Errno.EBADF;
            return Handler.Write(file, new ReadOnlySpan<byte>(data, (int)Math.Min(size, int.MaxValue)), offset);
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int StatFs(byte* path, byte* statvfs)
    {
        try
        {
            var handler = Handler;
            int r = handler.StatFs(out var volume);
            if (r == 0) StatBuffer.WriteStatVfs(statvfs, volume, !handler.Tree.CanWrite);
            return r;
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Flush(byte* path, FuseFileInfo* fi)
    {
        try { return FileOf(fi) is { } file ? Handler.Flush(file) : 0; }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Fsync(byte* path, int dataOnly, FuseFileInfo* fi)
    {
        try { return FileOf(fi) is { } file ? Handler.Fsync(file) : 0; }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Release(byte* path, FuseFileInfo* fi)
    {
        try
        {
            if (fi == null || fi->Handle == 0) return 0;
            var handle = GCHandle.FromIntPtr((nint)fi->Handle);
            fi->Handle = 0;
            var file = (IOpenFile)handle.Target!;
            handle.Free();
            return Handler.Release(file);
        }
        catch { return -Errno.EIO; }
    }

    /// <summary>readdir with fuse_fill_dir_t filler(buf, name, stat, off, flags): offset 0 = the whole listing in one call.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReadDir(byte* path, void* buffer, nint filler, long offset, FuseFileInfo* fi, int flags)
    {
        try
        {
            var handler = Handler;
            string? directory = PathOf(path);
            if (directory is null && fi != null && fi->Handle != 0)
                directory = (GCHandle.FromIntPtr((nint)fi->Handle).Target as OpenDirectory)?.Path;
            if (directory is null) return -Errno.EBADF;
            int r = handler.ReadDirectory(directory, out var entries, out _);
            if (r != 0) return r;
            var fill = (delegate* unmanaged[Cdecl]<void*, byte*, byte*, long, int, int>)filler;
            byte* name = stackalloc byte[NameBufferSize];
            if (!Fill(fill, buffer, name, ".") || !Fill(fill, buffer, name, "..")) return 0;
            foreach (var entry in entries!)
                if (!Fill(fill, buffer, name, entry.Name)) break;
            return 0;
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OpenDir(byte* path, FuseFileInfo* fi)
    {
        try
        {
            var directory = PathOf(path);
            if (directory is null) return -Errno.EINVAL;
            fi->Handle = (ulong)GCHandle.ToIntPtr(GCHandle.Alloc(new OpenDirectory(TreePath.Normalize(directory))));
            return 0;
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int ReleaseDir(byte* path, FuseFileInfo* fi)
    {
        try
        {
            if (fi == null || fi->Handle == 0) return 0;
            GCHandle.FromIntPtr((nint)fi->Handle).Free();
            fi->Handle = 0;
            return 0;
        }
        catch { return -Errno.EIO; }
    }

    private static bool Fill(delegate* unmanaged[Cdecl]<void*, byte*, byte*, long, int, int> fill, void* buffer, byte* name, string text)
    {
        var dest = new Span<byte>(name, NameBufferSize);
        if (Encoding.UTF8.GetMaxByteCount(text.Length) >= NameBufferSize && Encoding.UTF8.GetByteCount(text) >= NameBufferSize)
            return true; // longer than any file system allows; skip it
        int n = Encoding.UTF8.GetBytes(text, dest);
        dest[n] = 0;
        return fill(buffer, name, null, 0, 0) == 0;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Fallocate(byte* path, int mode, long offset, long length, FuseFileInfo* fi)
    {
        try
        {
            var file = FileOf(fi);
            if (file is null) return -Errno.EBADF;
            return Handler.Fallocate(file, mode, offset, length);
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static long Lseek(byte* path, long offset, int whence, FuseFileInfo* fi)
    {
        try
        {
            var file = FileOf(fi);
            if (file is null) return -Errno.EBADF;
            return Handler.Seek(file, offset, whence);
        }
        catch { return -Errno.EIO; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Truncate(byte* path, long size, FuseFileInfo* fi)
    {
        try { return Handler.Truncate(PathOf(path), FileOf(fi), size); }
        catch { return -Errno.EIO; }
    }

    // The shape of the tree is fixed: everything that would create, remove or re-label a node is refused.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Mknod(byte* path, uint mode, ulong device) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Mkdir(byte* path, uint mode) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RemovePath(byte* path) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int TwoPaths(byte* from, byte* to) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Rename(byte* from, byte* to, uint flags) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Chmod(byte* path, uint mode, FuseFileInfo* fi) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Chown(byte* path, uint uid, uint gid, FuseFileInfo* fi) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Create(byte* path, uint mode, FuseFileInfo* fi) => Refuse();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Utimens(byte* path, void* times, FuseFileInfo* fi) => Refuse();

    private static int Refuse()
    {
        try { return Handler.RefuseChange(); }
        catch { return -Errno.EPERM; }
    }
}
