using System.Runtime.InteropServices;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// The smallest io_uring we need (include/uapi/linux/io_uring.h): one ring with 128-byte SQEs
/// (IORING_SETUP_SQE128, required for URING_CMD payloads), mapped once, driven by one thread.
/// Submission: fill <see cref="NextSqe"/>, then <see cref="SubmitAndWait"/> publishes the new
/// tail and enters the kernel once for both submitting and waiting. Completion: <see cref="TryReap"/>.
/// Not thread-safe: one owner thread per ring.
/// </summary>
internal sealed unsafe partial class IoUring : IDisposable
{
    private const long SysSetup = 425, SysEnter = 426;  // io_uring_setup / io_uring_enter (same on x86_64 and arm64)
    private const uint SetupSqe128 = 1u << 10;           // IORING_SETUP_SQE128
    private const uint SetupCqSize = 1u << 3;            // IORING_SETUP_CQSIZE
    private const uint FeatSingleMmap = 1u << 0;         // IORING_FEAT_SINGLE_MMAP
    private const uint EnterGetEvents = 1u << 0;         // IORING_ENTER_GETEVENTS
    private const long OffSqRing = 0, OffCqRing = 0x8000000, OffSqes = 0x10000000;
    private const int ProtRead = 1, ProtWrite = 2, MapShared = 1, MapPopulate = 0x8000;
    public const int SqeSize = 128;
    public const byte OpUringCmd = 46;                   // IORING_OP_URING_CMD

    [StructLayout(LayoutKind.Sequential)]
    private struct SqRingOffsets { public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Reserved1; public ulong UserAddress; }

    [StructLayout(LayoutKind.Sequential)]
    private struct CqRingOffsets { public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Reserved1; public ulong UserAddress; }

    [StructLayout(LayoutKind.Sequential)]
    private struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Reserved0, Reserved1, Reserved2;
        public SqRingOffsets SqOff;
        public CqRingOffsets CqOff;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Completion { public ulong UserData; public int Result; public uint Flags; }

    private readonly int _fd;
    private readonly byte* _sqRing, _cqRing, _sqes;
    private readonly nuint _sqRingSize, _cqRingSize, _sqesSize;
    private readonly uint* _sqTail, _sqArray, _cqHead, _cqTail;
    private readonly uint _sqMask, _cqMask, _sqEntries;
    private readonly Completion* _cqes;
    private uint _localTail;
    private uint _pending;

    public IoUring(uint entries)
    {
        var p = new Params { Flags = SetupSqe128 | SetupCqSize, CqEntries = entries * 2 };
        _fd = (int)Syscall(SysSetup, entries, (nint)(&p), 0, 0, 0, 0);
        if (_fd < 0) throw new IOException($"io_uring_setup: {KernelCalls.ErrorText(Marshal.GetLastPInvokeError())}");
        try
        {
            _sqEntries = p.SqEntries;
            _sqRingSize = p.SqOff.Array + p.SqEntries * sizeof(uint);
            _cqRingSize = p.CqOff.Cqes + p.CqEntries * (uint)sizeof(Completion);
            bool single = (p.Features & FeatSingleMmap) != 0;
            if (single) _sqRingSize = _cqRingSize = Math.Max(_sqRingSize, _cqRingSize);
            _sqRing = Map(_sqRingSize, OffSqRing);
            _cqRing = single ? _sqRing : Map(_cqRingSize, OffCqRing);
            _sqesSize = p.SqEntries * (nuint)SqeSize;
            _sqes = Map(_sqesSize, OffSqes);
            _sqTail = (uint*)(_sqRing + p.SqOff.Tail);
            _sqArray = (uint*)(_sqRing + p.SqOff.Array);
            _sqMask = *(uint*)(_sqRing + p.SqOff.RingMask);
            _cqHead = (uint*)(_cqRing + p.CqOff.Head);
            _cqTail = (uint*)(_cqRing + p.CqOff.Tail);
            _cqMask = *(uint*)(_cqRing + p.CqOff.RingMask);
            _cqes = (Completion*)(_cqRing + p.CqOff.Cqes);
            _localTail = *_sqTail;
        }
        catch
        {
            KernelCalls.Close(_fd);
            throw;
        }
    }

    /// <summary>A zeroed SQE to fill; it is submitted by the next <see cref="SubmitAndWait"/>.</summary>
    public byte* NextSqe()
    {
        if (_pending >= _sqEntries) throw new InvalidOperationException("io_uring submission queue full");
        uint index = _localTail & _sqMask;
        byte* sqe = _sqes + index * SqeSize;
        new Span<byte>(sqe, SqeSize).Clear();
        _sqArray[index] = index;
        _localTail++;
        _pending++;
        return sqe;
    }

    /// <summary>Submits what was queued and waits for at least <paramref name="waitFor"/> completions; returns the errno on failure (0 = fine).</summary>
    public int SubmitAndWait(uint waitFor)
    {
        Volatile.Write(ref *_sqTail, _localTail);
        uint submit = _pending;
        _pending = 0;
        long r = Syscall(SysEnter, _fd, (nint)submit, (nint)waitFor, waitFor > 0 ? (nint)EnterGetEvents : 0, 0, 0);
        return r < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    public bool TryReap(out Completion completion)
    {
        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail))
        {
            completion = default;
            return false;
        }
        completion = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    public void Dispose()
    {
        Unmap(_sqes, _sqesSize);
        if (_cqRing != _sqRing) Unmap(_cqRing, _cqRingSize);
        Unmap(_sqRing, _sqRingSize);
        KernelCalls.Close(_fd);
    }

    private byte* Map(nuint size, long offset)
    {
        var at = Mmap(0, size, ProtRead | ProtWrite, MapShared | MapPopulate, _fd, offset);
        if (at == -1) throw new IOException($"io_uring mmap: {KernelCalls.ErrorText(Marshal.GetLastPInvokeError())}");
        return (byte*)at;
    }

    private static void Unmap(byte* at, nuint size)
    {
        if (at != null) Munmap((nint)at, size);
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, nint a, nint b, nint c, nint d, nint e, nint f);

    private static long Syscall(long number, uint a, nint b, nint c, nint d, nint e, nint f) => Syscall(number, (nint)a, b, c, d, e, f);

    private static long Syscall(long number, int a, nint b, nint c, nint d, nint e, nint f) => Syscall(number, (nint)a, b, c, d, e, f);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);
}
