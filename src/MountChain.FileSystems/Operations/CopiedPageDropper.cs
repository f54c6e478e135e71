using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Drops the link files' pages that <see cref="KernelFileCopy"/> has copied from the page cache
/// (POSIX_FADV_DONTNEED: extract reads them once), so a large extract fills the cache once, not twice.
/// The kernel keeps a large folio (up to 2 MiB on x86-64) that a range covers only in part, and
/// copies seldom start on such a boundary (grains lie at sector offsets of the link file): dropping
/// each copied range as it was left a quarter of a 1 GiB file cached and made the copy slower
/// (perf/files/bench-extract.sh). So a run of contiguous copies is dropped up to a 2 MiB boundary as
/// it grows, and the rest of it ends the next range, which then covers the folio across the
/// boundary. Nothing outside the copied bytes is dropped (neighbouring files may still need them).
/// </summary>
internal sealed partial class CopiedPageDropper
{
    private const long Unit = 2 << 20;

    private SafeFileHandle? _file;
    /// <summary>The run copied from <see cref="_file"/> and not dropped yet: [_start, _end).</summary>
    private long _start, _end;

    /// <summary>[offset, offset+length) of <paramref name="file"/> has been copied and will not be read again.</summary>
    public void Copied(SafeFileHandle file, long offset, long length)
    {
        if (!ReferenceEquals(file, _file) || offset != _end)
        {
            Flush();
            _file = file;
            _start = _end = offset;
        }
        _end += length;
        long to = AlignDown(_end);
        if (to <= _start) return;
        Drop(file, _start, to - _start);
        _start = to;
    }

    /// <summary>Ends the run: drops what is left of it (a folio across either end of the run stays).</summary>
    public void Flush()
    {
        if (_file != null && _end > _start) Drop(_file, _start, _end - _start);
        _file = null;
    }

    private static long AlignDown(long offset) => offset & ~(Unit - 1);

    /// <summary>A hint only: its failure changes nothing.</summary>
    private static void Drop(SafeFileHandle file, long offset, long length)
    {
        if (file.IsClosed) return;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            _ = posix_fadvise((int)file.DangerousGetHandle(), offset, length, PosixFadvDontNeed);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    private const int PosixFadvDontNeed = 4;

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);
}
