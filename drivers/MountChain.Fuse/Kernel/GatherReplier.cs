using System.Runtime.InteropServices;
using MountChain.Core.BlockDevices;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// Answers a large READ of the read/write loop without copying its data through a buffer of ours:
/// the file ranges behind the data (<see cref="IFileRangeOpenFile"/>) are mapped
/// (<see cref="FileMappings"/>), and one writev(2) hands /dev/fuse the reply header, those mapped
/// page-cache pages and a shared zero buffer for holes. The kernel then copies each byte once,
/// into the caller's pages — what a server holding the bytes in RAM pays too; a pread into our
/// buffer first would be a second copy, which halves 1 MiB throughput on this machine.
/// (splice(2) would avoid mapping, but a 1 MiB reply plus header needs a pipe over the 1 MiB
/// pipe-max-size, which only CAP_SYS_RESOURCE may exceed.)
/// One per worker thread. Returns false with nothing sent whenever it cannot help; the caller
/// then answers by copying.
/// </summary>
internal sealed unsafe class GatherReplier(FileMappings mappings) : IDisposable
{
    /// <summary>Smaller reads gain nothing: their copy is cheaper than resolving ranges.</summary>
    public const int MinimumBytes = 32 * 1024;

    private const int MaxVectors = 256;
    private const int ZeroBytes = 1 << 20;
    private static readonly byte* Zeros = AllocateZeros();
    private readonly List<FileRange> _ranges = [];
    private readonly nuint* _iovecs = (nuint*)NativeMemory.Alloc(MaxVectors * 2, (nuint)sizeof(nuint));

    private static byte* AllocateZeros()
    {
        var zeros = (byte*)NativeMemory.AlignedAlloc(ZeroBytes, 4096);
        new Span<byte>(zeros, ZeroBytes).Clear();
        return zeros;
    }

    /// <summary>Sends the reply to READ <paramref name="unique"/> (<paramref name="size"/> bytes at <paramref name="offset"/>); false when nothing was sent.</summary>
    public bool TryReply(int fuseFd, ulong unique, IFileRangeOpenFile file, long offset, int size)
    {
        _ranges.Clear();
        if (!file.TryDescribe(offset, size, _ranges, out int total)) return false;
        var header = new FuseOutHeader { Length = (uint)(sizeof(FuseOutHeader) + total), Error = 0, Unique = unique };
        int count = 0;
        Add(ref count, (nint)(&header), sizeof(FuseOutHeader));
        foreach (var range in _ranges)
        {
            if (range.Handle is null)
            {
                for (int done = 0; done < range.Length; done += ZeroBytes)
                    if (!Add(ref count, (nint)Zeros, Math.Min(ZeroBytes, range.Length - done))) return false;
                continue;
            }
            nint address = mappings.AddressOf(range.Handle, range.FileOffset, range.Length);
            if (address == 0 || !Add(ref count, address, range.Length)) return false;
        }
        nint sent = KernelCalls.WriteVector(fuseFd, _iovecs, count);
        if (sent == header.Length) return true;
        // ENOENT: the kernel gave up on the request (interrupted). EFAULT: a mapped file shrank;
        // the kernel ended the request with EIO. Anything else left it waiting: copy instead.
        int errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
        return errno is KernelCalls.ENOENT or KernelCalls.EFAULT;
    }

    private bool Add(ref int count, nint address, int length)
    {
        if (count == MaxVectors) return false;
        _iovecs[2 * count] = (nuint)address;
        _iovecs[2 * count + 1] = (nuint)length;
        count++;
        return true;
    }

    public void Dispose() => NativeMemory.Free(_iovecs);
}
