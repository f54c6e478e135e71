using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>
/// Copies file content the kernel can move by itself: when the reader and the device locate a
/// range in the chain's own files (<see cref="IFileSystem.TryLocate"/>, <see cref="IFileRangeSource"/>), copy_file_range(2) moves
/// it from the link file to the target with no copy through user space (a reflink where the file
/// system shares blocks), and the link's pages just copied are dropped from the page cache
/// (<see cref="CopiedPageDropper"/>).
/// Zero spans (holes, unwritten extents, zeroed or unallocated grains) are skipped: they stay holes.
/// Each data span's blocks are reserved in the target first (fallocate(2)): the kernel then writes
/// into allocated blocks instead of reserving delayed allocation block by block, which is a fifth
/// of a buffered write's cost on ext4 (perf/files/bench-extract.sh).
/// Linux only; anything it cannot do is left to the caller's read/write loop.
/// </summary>
internal sealed partial class KernelFileCopy(KernelFileCopy.RangeCopier? copier = null)
{
    /// <summary>copy_file_range(2) as this class calls it: the bytes copied (fewer than asked is fine), or -1 and errno.</summary>
    internal delegate long RangeCopier(SafeFileHandle source, long sourceOffset, SafeFileHandle target, long targetOffset, int count, out int errno);

    /// <summary>The kernel's copy (the default); tests wrap it to count calls or to refuse like a kernel without it.</summary>
    internal static RangeCopier Kernel => Native.Copy;

    private readonly RangeCopier _copy = copier ?? Native.Copy;

    /// <summary>Bytes located per call: bounds the span list of a fragmented file.</summary>
    private const int Window = 64 << 20;
    /// <summary>Bytes per copy_file_range call: progress and the cache drop follow at this step.</summary>
    private const int Step = 8 << 20;

    private readonly List<FileRange> _spans = [];
    private readonly CopiedPageDropper _dropper = new();
    /// <summary>Set once the kernel or the target refuses copy_file_range: later files go the read/write way at once.</summary>
    private bool _unsupported = !OperatingSystem.IsLinux();
    /// <summary>Set once the target refuses fallocate (FUSE, some network file systems): a hint, never retried.</summary>
    private bool _noPreallocation;
    /// <summary>Set after the first copy_file_range that worked: blocks are reserved only for a copy that will happen.</summary>
    private bool _copyWorks;

    /// <summary>
    /// Copies [start, end) of <paramref name="entry"/> into <paramref name="target"/> at the same offsets
    /// as far as it can; returns the offset it reached (<paramref name="end"/> when all is done).
    /// </summary>
    public long Copy(IFileSystem fs, FsEntry entry, SafeFileHandle target, long start, long end, Action<long> copied)
    {
        long offset = start;
        while (offset < end && !_unsupported)
        {
            int want = (int)Math.Min(Window, end - offset);
            _spans.Clear();
            if (!fs.TryLocate(entry, offset, want, _spans) || Total(_spans) != want) return offset;
            foreach (var span in _spans)
            {
                if (span.Handle != null && !CopySpan(entry, span, target, offset, copied, out long reached)) return reached;
                if (span.Handle == null) copied(span.Length);
                offset += span.Length;
            }
        }
        return offset;
    }

    /// <summary>
    /// The extract is over: the last copied pages leave the cache too. Until then a run of copies
    /// stays open across ranges and files that follow each other in a link file.
    /// </summary>
    public void Finish() => _dropper.Flush();

    private bool CopySpan(FsEntry entry, FileRange span, SafeFileHandle target, long at, Action<long> copied, out long reached)
    {
        long done = 0;
        bool reserved = false;
        while (done < span.Length)
        {
            long from = span.FileOffset + done, to = at + done;
            if (!reserved && _copyWorks)
            {
                if (!_noPreallocation) _noPreallocation = !Native.Preallocate(target, to, span.Length - done);
                reserved = true;
            }
            long n = _copy(span.Handle!, from, target, to, (int)Math.Min(Step, span.Length - done), out int errno);
            if (n < 0)
            {
                // Refused as a whole (old kernel, no splice between these file systems): read/write from here on.
                if (errno is ENOSYS or EXDEV or EINVAL or EOPNOTSUPP or EBADF)
                {
                    _unsupported = true;
                    reached = at + done;
                    return false;
                }
                throw new IOException($"{entry.Path}: copying from a link file at byte {from}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            if (n == 0) throw new FileSystemCorruptException($"{entry.Path}: a link file ends at byte {from}, before data the chain maps there (file truncated?)");
            _dropper.Copied(span.Handle!, from, n);
            _copyWorks = true;
            done += n;
            copied(n);
        }
        reached = at + done;
        return true;
    }

    private static long Total(List<FileRange> spans)
    {
        long sum = 0;
        foreach (var s in spans) sum += s.Length;
        return sum;
    }

    private const int EBADF = 9, EINVAL = 22, EXDEV = 18, ENOSYS = 38, EOPNOTSUPP = 95;

    private static partial class Native
    {
        private const int FallocKeepSize = 1;

        public static long Copy(SafeFileHandle source, long sourceOffset, SafeFileHandle target, long targetOffset, int count, out int errno)
        {
            bool sourceRef = false, targetRef = false;
            try
            {
                source.DangerousAddRef(ref sourceRef);
                target.DangerousAddRef(ref targetRef);
                long n = copy_file_range((int)source.DangerousGetHandle(), ref sourceOffset, (int)target.DangerousGetHandle(), ref targetOffset, (nuint)count, 0);
                errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
                return n;
            }
            finally
            {
                if (targetRef) target.DangerousRelease();
                if (sourceRef) source.DangerousRelease();
            }
        }

        /// <summary>
        /// Allocates [offset, offset+length) of the target without changing its size (KEEP_SIZE: FAT
        /// would otherwise write zeros to extend it); false when refused.
        /// </summary>
        public static bool Preallocate(SafeFileHandle file, long offset, long length)
        {
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                return fallocate((int)file.DangerousGetHandle(), FallocKeepSize, offset, length) == 0;
            }
            finally
            {
                if (added) file.DangerousRelease();
            }
        }

        [LibraryImport("libc")]
        private static partial int fallocate(int fd, int mode, long offset, long length);

        [LibraryImport("libc", SetLastError = true)]
        private static partial nint copy_file_range(int fdIn, ref long offIn, int fdOut, ref long offOut, nuint length, uint flags);
    }
}
