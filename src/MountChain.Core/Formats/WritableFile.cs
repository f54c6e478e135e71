using Microsoft.Win32.SafeHandles;

namespace MountChain.Core.Formats;

/// <summary>Which kind of I/O a <see cref="WritableFile"/> is about to do (for fault injection in tests).</summary>
internal enum FileOperation : byte { Read, Write, Sync, Truncate }

/// <summary>
/// A file we are allowed to write (our redo log, or a parent during commit): positional reads and
/// writes, data barriers (fdatasync) and truncation. Every error is rethrown as an IOException that
/// names the file and the operation. An optional fault hook lets tests make any call fail (the EIO
/// path) without a special kernel setup.
/// </summary>
internal sealed class WritableFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly Func<FileOperation, long, int, Exception?>? _fault;

    public WritableFile(string path, bool create, Func<FileOperation, long, int, Exception?>? fault = null)
    {
        Path = path;
        _fault = fault;
        try
        {
            _handle = File.OpenHandle(path, create ? FileMode.CreateNew : FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{path}: cannot open for writing ({e.Message})", e);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new IOException($"{path}: cannot open for writing ({e.Message})", e);
        }
    }

    public string Path { get; }
    public SafeFileHandle Handle => _handle;

    public long Length => RandomAccess.GetLength(_handle);

    /// <summary>Reads exactly buffer.Length bytes; bytes past EOF read as zeros (sparse tail).</summary>
    public void Read(Span<byte> buffer, long offset)
    {
        Inject(FileOperation.Read, offset, buffer.Length);
        try
        {
            while (!buffer.IsEmpty)
            {
                int n = RandomAccess.Read(_handle, buffer, offset);
                if (n <= 0) { buffer.Clear(); return; }
                buffer = buffer[n..];
                offset += n;
            }
        }
        catch (IOException e) { throw Wrap("read", offset, e); }
    }

    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        Inject(FileOperation.Write, offset, data.Length);
        try { RandomAccess.Write(_handle, data, offset); }
        catch (IOException e) { throw Wrap("write", offset, e); }
    }

    /// <summary>Barrier: everything written so far is on stable storage when this returns (fdatasync).</summary>
    public void Sync()
    {
        Inject(FileOperation.Sync, 0, 0);
        if (OperatingSystem.IsLinux())
        {
            // fdatasync, not fsync (what FlushToDisk does): mtime-only changes need no journal commit,
            // which makes a flush several times cheaper on ext4/xfs.
            bool added = false;
            try
            {
                _handle.DangerousAddRef(ref added);
                if (NativeFdatasync((int)_handle.DangerousGetHandle()) != 0)
                {
                    int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                    throw Wrap("sync", 0, new IOException(System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)));
                }
            }
            finally
            {
                if (added) _handle.DangerousRelease();
            }
            return;
        }
        try { RandomAccess.FlushToDisk(_handle); }
        catch (IOException e) { throw Wrap("sync", 0, e); }
    }

    public void SetLength(long length)
    {
        Inject(FileOperation.Truncate, length, 0);
        try { RandomAccess.SetLength(_handle, length); }
        catch (IOException e) { throw Wrap("truncate", length, e); }
    }

    private void Inject(FileOperation io, long offset, int length)
    {
        if (_fault?.Invoke(io, offset, length) is { } e) throw Wrap(io.ToString().ToLowerInvariant(), offset, e);
    }

    private IOException Wrap(string what, long offset, Exception e) =>
        new($"{Path}: {what} at byte {offset} failed: {e.Message}", e);

    /// <summary>fsync of a directory, so a created, renamed or deleted name is durable.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = NativeOpen(directory, 0 /* O_RDONLY */);
        if (fd < 0) return; // some file systems refuse: the rename is still atomic there
        NativeFsync(fd);
        NativeClose(fd);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int NativeOpen([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int NativeFsync(int fd);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int NativeFdatasync(int fd);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int NativeClose(int fd);

    public void Dispose() => _handle.Dispose();
}
