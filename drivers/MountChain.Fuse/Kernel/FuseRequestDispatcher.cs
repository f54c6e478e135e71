using System.Text;
using MountChain.Fuse.Hosting;
using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// Turns one FUSE request into one reply, in place: the request lies in a buffer as the kernel
/// wrote it, the reply is built in another buffer behind a fuse_out_header, and read data goes
/// straight from the disk into that buffer (no copy, no allocation on the read and write paths).
/// The operations themselves are <see cref="FuseRequestHandler"/>'s, shared with the libfuse
/// transport; this type only decodes arguments, maps node ids and handles, and encodes results.
/// Called from every worker thread at once.
/// </summary>
internal sealed unsafe partial class FuseRequestDispatcher(FuseRequestHandler handler, int maxWrite)
{
    /// <summary>Returned for requests that take no reply (FORGET, BATCH_FORGET, INTERRUPT).</summary>
    public const int NoReply = 0;

    private sealed class OpenDirectory(string path, IReadOnlyList<FileNode> entries)
    {
        public readonly string Path = path;
        public readonly IReadOnlyList<FileNode> Entries = entries;
    }

    private readonly NodeTable _nodes = new();
    private readonly HandleTable<IOpenFile> _files = new();
    private readonly HandleTable<OpenDirectory> _directories = new();
    private readonly ulong _validSeconds = (ulong)handler.Options.AttributeTimeout.TotalSeconds;
    private readonly uint _validNanoseconds = (uint)(handler.Options.AttributeTimeout.Ticks % TimeSpan.TicksPerSecond * 100);

    /// <summary>Set once INIT has been answered; the session's threads start reading after it.</summary>
    public bool Initialised { get; private set; }

    /// <summary>Set when the kernel sent DESTROY (the connection ends).</summary>
    public bool Destroyed { get; private set; }

    /// <summary>The capability flags the kernel offered in INIT (for diagnostics and transport choice).</summary>
    public ulong KernelFlags { get; private set; }

    /// <summary>Ask for FUSE-over-io_uring in INIT when the kernel offers it (set before serving).</summary>
    public bool WantIoUring { get; set; }

    /// <summary>True once INIT agreed on io_uring: requests then arrive on the rings as soon as every queue is registered.</summary>
    public bool IoUringAgreed { get; private set; }

    /// <summary>
    /// Serves a request as /dev/fuse delivers it: <paramref name="request"/> holds the header and,
    /// right behind it, the arguments (<paramref name="requestLength"/> bytes in all); the reply is
    /// built in <paramref name="reply"/> (room for <paramref name="replyCapacity"/> bytes). Returns
    /// the reply's total length, or <see cref="NoReply"/>.
    /// </summary>
    public int Dispatch(byte* request, int requestLength, byte* reply, int replyCapacity)
    {
        var header = (FuseInHeader*)request;
        byte* args = request + sizeof(FuseInHeader);
        int argsLength = Math.Max(0, requestLength - sizeof(FuseInHeader));
        int fixedLength = Math.Min(argsLength, FixedArgumentLength(header->Opcode));
        int result = Serve(header, args, args + fixedLength, argsLength - fixedLength,
            reply + sizeof(FuseOutHeader), replyCapacity - sizeof(FuseOutHeader));
        return result == NoReplyMarker ? NoReply : FinishReply(header, (FuseOutHeader*)reply, result);
    }

    /// <summary>
    /// Answers a large READ of a file that can name its bytes through <paramref name="replier"/>
    /// (no copy through our memory); false when it did not, and <see cref="Dispatch"/> serves it.
    /// </summary>
    public bool TryGatherRead(byte* request, int requestLength, int fuseFd, GatherReplier replier)
    {
        var header = (FuseInHeader*)request;
        if (header->Opcode != FuseOpcode.Read || requestLength < sizeof(FuseInHeader) + sizeof(FuseIoIn)) return false;
        var read = (FuseIoIn*)(request + sizeof(FuseInHeader));
        if (read->Size < GatherReplier.MinimumBytes) return false;
        if (_files.TryGet(read->FileHandle) is not IFileRangeOpenFile file) return false;
        try
        {
            return replier.TryReply(fuseFd, header->Unique, file, (long)read->Offset, (int)Math.Min(read->Size, (uint)maxWrite));
        }
        catch (Exception)
        {
            return false; // the copying path reports the error
        }
    }

    /// <summary>
    /// Serves a request as an io_uring entry delivers it: the header and the opcode's fixed
    /// argument struct in their own areas, any further argument bytes (a name, write data) in the
    /// payload buffer — where the reply's payload goes too, once the inputs are consumed. Fills
    /// <paramref name="outHeader"/>; returns the reply payload length, or -1 for no reply.
    /// </summary>
    public int DispatchSplit(FuseInHeader* header, byte* fixedArgs, byte* payload, int payloadLength, int payloadCapacity, FuseOutHeader* outHeader)
    {
        int result = Serve(header, fixedArgs, payload, payloadLength, payload, payloadCapacity);
        if (result == NoReplyMarker) return -1;
        FinishReply(header, outHeader, result);
        return Math.Max(0, result);
    }

    /// <summary>
    /// The size of each opcode's leading argument struct (fuse.h, protocol 7.38); whatever follows
    /// it (a name, write data, forget entries) is the variable part.
    /// </summary>
    public static int FixedArgumentLength(FuseOpcode opcode) => opcode switch
    {
        FuseOpcode.Forget or FuseOpcode.Open or FuseOpcode.OpenDir or FuseOpcode.Access or FuseOpcode.Interrupt
            or FuseOpcode.BatchForget or FuseOpcode.GetXattr or FuseOpcode.ListXattr => 8,
        FuseOpcode.GetAttr or FuseOpcode.Fsync or FuseOpcode.FsyncDir => 16,
        FuseOpcode.Release or FuseOpcode.ReleaseDir or FuseOpcode.Flush or FuseOpcode.Lseek => 24,
        FuseOpcode.Fallocate => 32,
        FuseOpcode.Read or FuseOpcode.Write or FuseOpcode.ReadDir or FuseOpcode.ReadDirPlus => 40,
        FuseOpcode.Init => 64,
        FuseOpcode.SetAttr => 88,
        _ => 0, // LOOKUP, READLINK, STATFS, DESTROY, ...: no struct, or a name only
    };

    private static int FinishReply(FuseInHeader* header, FuseOutHeader* outHeader, int result)
    {
        outHeader->Unique = header->Unique;
        outHeader->Error = result < 0 ? result : 0;
        outHeader->Length = (uint)(sizeof(FuseOutHeader) + Math.Max(0, result));
        return (int)outHeader->Length;
    }

    /// <summary>One request: ≥ 0 is the reply payload length, &lt; 0 a negated errno, <see cref="NoReplyMarker"/> no reply.</summary>
    private int Serve(FuseInHeader* header, byte* args, byte* variable, int variableLength, byte* payload, int payloadCapacity)
    {
        try
        {
            return header->Opcode switch
            {
                FuseOpcode.Read => Read(args, payload, payloadCapacity),
                FuseOpcode.Write => Write(args, variable, variableLength, payload),
                FuseOpcode.GetAttr => GetAttr(header->NodeId, args, payload),
                FuseOpcode.Lookup => Lookup(header->NodeId, variable, variableLength, payload),
                FuseOpcode.Forget => Forget(header->NodeId, args),
                FuseOpcode.BatchForget => BatchForget(args, variable, variableLength),
                FuseOpcode.Open => Open(header->NodeId, args, payload),
                FuseOpcode.Release => Release(args),
                FuseOpcode.Flush => WithFile(args, handler.Flush),
                FuseOpcode.Fsync => WithFile(args, handler.Fsync),
                FuseOpcode.OpenDir => OpenDir(header->NodeId, payload),
                FuseOpcode.ReadDir => ReadDir(args, payload, payloadCapacity),
                FuseOpcode.ReleaseDir => ReleaseDir(args),
                FuseOpcode.FsyncDir => 0,
                FuseOpcode.ReadLink => ReadLink(header->NodeId, payload, payloadCapacity),
                FuseOpcode.StatFs => StatFs(payload),
                FuseOpcode.SetAttr => SetAttr(header->NodeId, args, payload),
                FuseOpcode.Fallocate => Fallocate(args),
                FuseOpcode.Lseek => Lseek(args, payload),
                FuseOpcode.Init => Init(args, payload),
                FuseOpcode.Destroy => Destroy(),
                FuseOpcode.Interrupt => NoReplyMarker,
                FuseOpcode.Access => 0, // default_permissions: the kernel checks modes itself
                FuseOpcode.Mknod or FuseOpcode.Mkdir or FuseOpcode.Unlink or FuseOpcode.Rmdir or FuseOpcode.Rename
                    or FuseOpcode.Rename2 or FuseOpcode.Link or FuseOpcode.Symlink or FuseOpcode.Create
                    or FuseOpcode.TmpFile => handler.RefuseChange(),
                _ => -Errno.ENOSYS,
            };
        }
        catch (Exception)
        {
            return -Errno.EIO;
        }
    }

    /// <summary>Closes everything the kernel left open (a forced unmount sends no RELEASE).</summary>
    public void ReleaseAll()
    {
        foreach (var file in _files.TakeAll()) handler.Release(file);
        _directories.TakeAll();
    }

    private const int NoReplyMarker = int.MinValue;
    private const int NameTooLong = 36; // ENAMETOOLONG

    private int Init(byte* args, byte* payload)
    {
        var init = (FuseInitIn*)args;
        var result = (FuseInitOut*)payload;
        *result = default;
        result->Major = FuseConstants.KernelVersion;
        if (init->Major != FuseConstants.KernelVersion)
        {
            // A newer major version: answer with ours; the kernel then refuses or retries with ours.
            return sizeof(FuseInitOut);
        }
        KernelFlags = init->Flags | ((init->Flags & FuseConstants.InitExt) != 0 ? (ulong)init->Flags2 << 32 : 0);
        result->Minor = Math.Min(init->Minor, FuseConstants.KernelMinorVersion);
        result->MaxReadahead = init->MaxReadahead;
        uint wanted = FuseConstants.AsyncRead | FuseConstants.BigWrites | FuseConstants.AsyncDio
            | FuseConstants.ParallelDirops | FuseConstants.MaxPages;
        result->Flags = init->Flags & wanted;
        bool offered = (init->Flags & FuseConstants.InitExt) != 0 && (init->Flags2 & FuseConstants.OverIoUringFlags2) != 0;
        if (WantIoUring && offered)
        {
            result->Flags |= FuseConstants.InitExt;
            result->Flags2 = FuseConstants.OverIoUringFlags2;
            IoUringAgreed = true;
        }
        result->MaxBackground = 64;
        result->CongestionThreshold = 48;
        result->MaxWrite = (uint)maxWrite;
        result->TimeGranularity = 1;
        result->MaxPages = (ushort)Math.Min(maxWrite / Environment.SystemPageSize, ushort.MaxValue);
        Initialised = true;
        return sizeof(FuseInitOut);
    }

    private int Destroy()
    {
        Destroyed = true;
        ReleaseAll();
        return 0;
    }

    private int GetAttr(ulong nodeId, byte* args, byte* payload)
    {
        var getattr = (FuseGetAttrIn*)args;
        const uint GetAttrFileHandle = 1; // FUSE_GETATTR_FH
        IOpenFile? file = (getattr->Flags & GetAttrFileHandle) != 0 ? _files.TryGet(getattr->FileHandle) : null;
        string? path = file is null ? _nodes.PathOf(nodeId) : null;
        if (file is null && path is null) return -Errno.ENOENT;
        int r = handler.GetAttributes(path, file, out var node);
        if (r != 0) return r;
        return AttrReply(payload, node!);
    }

    private int SetAttr(ulong nodeId, byte* args, byte* payload)
    {
        var setattr = (FuseSetAttrIn*)args;
        // Only a size change can be meant for a disk (O_TRUNC, ftruncate); everything else is refused.
        if ((setattr->Valid & ~(FuseConstants.SetAttrSize | FuseConstants.SetAttrFileHandle | LockOwnerBit)) != 0)
            return handler.RefuseChange();
        IOpenFile? file = (setattr->Valid & FuseConstants.SetAttrFileHandle) != 0 ? _files.TryGet(setattr->FileHandle) : null;
        string? path = _nodes.PathOf(nodeId);
        if ((setattr->Valid & FuseConstants.SetAttrSize) != 0)
        {
            int t = handler.Truncate(path, file, (long)setattr->Size);
            if (t != 0) return t;
        }
        int r = handler.GetAttributes(path, file, out var node);
        return r != 0 ? r : AttrReply(payload, node!);
    }

    private const uint LockOwnerBit = 1u << 9; // FATTR_LOCKOWNER

    private int AttrReply(byte* payload, FileNode node)
    {
        var result = (FuseAttrOut*)payload;
        *result = default;
        result->AttrValid = _validSeconds;
        result->AttrValidNsec = _validNanoseconds;
        FillAttr(&result->Attr, node);
        return sizeof(FuseAttrOut);
    }

    private int Open(ulong nodeId, byte* args, byte* payload)
    {
        string? path = _nodes.PathOf(nodeId);
        if (path is null) return -Errno.ENOENT;
        int r = handler.Open(path, (int)((FuseOpenIn*)args)->Flags, out var file);
        if (r != 0) return r;
        var result = (FuseOpenOut*)payload;
        *result = default;
        result->FileHandle = _files.Add(file!);
        var options = handler.Options;
        if (options.DirectIo) result->OpenFlags = FuseConstants.OpenDirectIo | FuseConstants.OpenParallelDirectWrites;
        else if (options.KeepCache) result->OpenFlags = FuseConstants.OpenKeepCache;
        return sizeof(FuseOpenOut);
    }

    private int Read(byte* args, byte* payload, int capacity)
    {
        var read = (FuseIoIn*)args;
        var file = _files.TryGet(read->FileHandle);
        if (file is null) return -Errno.EBADF;
        int size = (int)Math.Min(read->Size, (uint)capacity);
        return handler.Read(file, new Span<byte>(payload, size), (long)read->Offset);
    }

    private int Write(byte* args, byte* data, int dataLength, byte* payload)
    {
        var write = (FuseIoIn*)args;
        var file = _files.TryGet(write->FileHandle);
        if (file is null) return -Errno.EBADF;
        int size = (int)Math.Min(write->Size, (uint)Math.Max(0, dataLength));
        int n = handler.Write(file, new ReadOnlySpan<byte>(data, size), (long)write->Offset);
        if (n < 0) return n;
        *(FuseWriteOut*)payload = new FuseWriteOut { Size = (uint)n };
        return sizeof(FuseWriteOut);
    }

    private int Release(byte* args)
    {
        var file = _files.Remove(((FuseHandleIn*)args)->FileHandle);
        return file is null ? 0 : handler.Release(file);
    }

    private int WithFile(byte* args, Func<IOpenFile, int> operation)
    {
        var file = _files.TryGet(((FuseHandleIn*)args)->FileHandle);
        return file is null ? 0 : operation(file);
    }

    private int StatFs(byte* payload)
    {
        int r = handler.StatFs(out var volume);
        if (r != 0) return r;
        var result = (FuseStatFsOut*)payload;
        *result = default;
        uint blockSize = (uint)Math.Max(512, volume.BlockSize);
        result->BlockSize = blockSize;
        result->FragmentSize = blockSize;
        result->Blocks = (ulong)volume.TotalBytes / blockSize;
        result->FreeBlocks = (ulong)volume.FreeBytes / blockSize;
        result->AvailableBlocks = result->FreeBlocks;
        result->Files = (ulong)volume.FileCount;
        result->NameLength = 255;
        return sizeof(FuseStatFsOut);
    }

    private int Fallocate(byte* args)
    {
        var fallocate = (FuseFallocateIn*)args;
        var file = _files.TryGet(fallocate->FileHandle);
        if (file is null) return -Errno.EBADF;
        return handler.Fallocate(file, (int)fallocate->Mode, (long)fallocate->Offset, (long)fallocate->Length);
    }

    private int Lseek(byte* args, byte* payload)
    {
        var seek = (FuseLseekIn*)args;
        var file = _files.TryGet(seek->FileHandle);
        if (file is null) return -Errno.EBADF;
        long offset = handler.Seek(file, (long)seek->Offset, (int)seek->Whence);
        if (offset < 0) return (int)offset;
        *(ulong*)payload = (ulong)offset;
        return sizeof(ulong);
    }

    private void FillAttr(FuseAttr* attr, FileNode node)
    {
        var (uid, gid) = UnixAttributes.Owner(node, handler.OwnerUid, handler.OwnerGid);
        attr->Ino = (ulong)node.Id;
        attr->Size = (ulong)node.Size;
        attr->Blocks = (ulong)UnixAttributes.Blocks(node);
        SetTime(node.Accessed ?? node.Modified, out attr->Atime, out attr->AtimeNsec);
        SetTime(node.Modified, out attr->Mtime, out attr->MtimeNsec);
        SetTime(node.Changed ?? node.Modified, out attr->Ctime, out attr->CtimeNsec);
        attr->Mode = UnixAttributes.Mode(node);
        attr->Nlink = UnixAttributes.LinkCount(node);
        attr->Uid = uid;
        attr->Gid = gid;
        attr->BlockSize = StatBuffer.PreferredIoSize;
    }

    private static void SetTime(DateTimeOffset time, out ulong seconds, out uint nanoseconds)
    {
        long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long s = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rest);
        if (rest < 0) { s--; rest += TimeSpan.TicksPerSecond; }
        seconds = (ulong)s;
        nanoseconds = (uint)(rest * 100);
    }

}
