using System.Runtime.InteropServices;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// One FUSE-over-io_uring queue (kernel Documentation/filesystems/fuse-io-uring.rst): a ring of
/// our own and <c>depth</c> entries, each a header buffer (fuse_uring_req_header: in/out header,
/// the opcode's argument struct, the entry's in/out trailer) and a payload buffer. Each entry is
/// REGISTERed once; afterwards the kernel completes it with a request, we serve it in place and
/// COMMIT_AND_FETCH it (the reply and the wait for the next request in one submission). One
/// io_uring_enter per request replaces the read(2)/write(2) pair of the classic loop.
/// The kernel routes a request to the queue of the CPU its caller runs on, so every possible CPU
/// has a queue. One thread owns the queue.
/// A READ's data is read (pread) into the entry's payload, which the kernel then copies to the
/// caller: two passes over the bytes where the read/write loop's gathered writev
/// (<see cref="GatherReplier"/>) needs one, because the reply must lie at the address fixed at
/// registration. Mapping the file's pages over the payload per request (MAP_FIXED) was tried and
/// dropped: the mmap, the fault-in of 256 pages and the zap of the previous mapping cost as much
/// CPU as the copy (perf stat on the server, 512 MiB of 1 MiB O_DIRECT reads: about 180 ms
/// either way, against 115 ms for the read/write loop), and it takes the mmap lock for writing
/// and flushes TLBs on every request, which on a loaded machine produced the worst outliers.
/// </summary>
internal sealed unsafe class FuseRingQueue : IDisposable
{
    // struct fuse_uring_req_header: in_out[128], op_in[128], struct fuse_uring_ent_in_out (32 bytes).
    private const int InOutOffset = 0, OpInOffset = 128, EntryInOutOffset = 256, HeaderSize = 288;
    // struct fuse_uring_ent_in_out fields (flags u64, commit_id u64, payload_sz u32, padding, reserved).
    private const int CommitIdOffset = EntryInOutOffset + 8, PayloadSizeOffset = EntryInOutOffset + 16;
    // SQE fields used by IORING_OP_URING_CMD (io_uring.h): fd, cmd_op, addr, len, user_data, cmd[].
    private const int SqeOpcode = 0, SqeFd = 4, SqeCmdOp = 8, SqeAddress = 16, SqeLength = 24, SqeUserData = 32, SqeCmd = 48;
    // struct fuse_uring_cmd_req inside cmd[]: flags u64, commit_id u64, qid u16.
    private const int CmdCommitId = SqeCmd + 8, CmdQueueId = SqeCmd + 16;
    private const uint CmdRegister = 1, CmdCommitAndFetch = 2; // enum fuse_uring_cmd
    private const int EINTR = 4;

    private readonly IoUring _ring;
    private readonly int _fuseFd;
    private readonly ushort _queueId;
    private readonly int _depth;
    private readonly int _payloadSize;
    private readonly FuseRequestDispatcher _dispatcher;
    private readonly byte* _headers;
    private readonly byte* _payloads;
    private readonly ulong* _iovecs;

    public FuseRingQueue(int fuseFd, ushort queueId, int depth, int payloadSize, FuseRequestDispatcher dispatcher)
    {
        _fuseFd = fuseFd;
        _queueId = queueId;
        _depth = depth;
        _payloadSize = payloadSize;
        _dispatcher = dispatcher;
        _ring = new IoUring((uint)depth);
        _headers = (byte*)NativeMemory.AlignedAlloc((nuint)(depth * HeaderSize), 64);
        _payloads = (byte*)NativeMemory.AlignedAlloc(PayloadBytes, 4096);
        _iovecs = (ulong*)NativeMemory.AllocZeroed((nuint)(depth * 4 * sizeof(ulong)));
        new Span<byte>(_headers, depth * HeaderSize).Clear();
        for (int i = 0; i < depth; i++)
        {
            // struct iovec[2] per entry: the header buffer, then the payload buffer.
            _iovecs[i * 4 + 0] = (ulong)Header(i);
            _iovecs[i * 4 + 1] = HeaderSize;
            _iovecs[i * 4 + 2] = (ulong)Payload(i);
            _iovecs[i * 4 + 3] = (ulong)payloadSize;
        }
    }

    /// <summary>Number of queues the kernel expects: one per possible CPU (/sys/devices/system/cpu/possible).</summary>
    public static int QueueCount()
    {
        try
        {
            // "0-3" or "0,2-5": the highest CPU number + 1.
            string text = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
            int highest = text.Split(',').Select(part => int.Parse(part.Split('-')[^1])).Max();
            return highest + 1;
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return Environment.ProcessorCount;
        }
    }

    /// <summary>Registers every entry, then serves until the connection ends (entries complete with an error).</summary>
    public void Run()
    {
        for (int i = 0; i < _depth; i++) Queue(i, CmdRegister, commitId: 0);
        while (true)
        {
            int error = _ring.SubmitAndWait(1);
            if (error != 0 && error != EINTR) return;
            while (_ring.TryReap(out var completion))
            {
                // A failed entry means the ring is being torn down (unmount, abort): stop serving.
                if (completion.Result < 0) return;
                Serve((int)completion.UserData);
            }
        }
    }

    private void Serve(int entry)
    {
        byte* header = Header(entry);
        byte* payload = Payload(entry);
        ulong commitId = *(ulong*)(header + CommitIdOffset);
        int payloadLength = (int)Math.Min(*(uint*)(header + PayloadSizeOffset), (uint)_payloadSize);
        int reply = _dispatcher.DispatchSplit((FuseInHeader*)(header + InOutOffset), header + OpInOffset,
            payload, payloadLength, _payloadSize, (FuseOutHeader*)(header + InOutOffset));
        *(uint*)(header + PayloadSizeOffset) = (uint)Math.Max(0, reply);
        Queue(entry, CmdCommitAndFetch, commitId);
    }

    private void Queue(int entry, uint command, ulong commitId)
    {
        byte* sqe = _ring.NextSqe();
        sqe[SqeOpcode] = IoUring.OpUringCmd;
        *(int*)(sqe + SqeFd) = _fuseFd;
        *(uint*)(sqe + SqeCmdOp) = command;
        if (command == CmdRegister)
        {
            *(ulong*)(sqe + SqeAddress) = (ulong)(_iovecs + entry * 4);
            *(uint*)(sqe + SqeLength) = 2;
        }
        *(ulong*)(sqe + SqeUserData) = (ulong)entry;
        *(ulong*)(sqe + CmdCommitId) = commitId;
        *(ushort*)(sqe + CmdQueueId) = _queueId;
    }

    private nuint PayloadBytes => (nuint)_depth * (nuint)_payloadSize;

    private byte* Header(int entry) => _headers + entry * HeaderSize;

    private byte* Payload(int entry) => _payloads + (nint)entry * _payloadSize;

    public void Dispose()
    {
        // Closing the ring cancels the entries still registered; only then may their buffers go.
        _ring.Dispose();
        NativeMemory.AlignedFree(_headers);
        NativeMemory.AlignedFree(_payloads);
        NativeMemory.Free(_iovecs);
    }
}
