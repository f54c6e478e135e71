using System.Buffers.Binary;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.Nbd.Handshake;
using MountChain.Nbd.MetaContexts;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Server;

namespace MountChain.Nbd.Transmission;

/// <summary>
/// Executes one request against the device and builds its reply (proto.md "Request types"):
/// simple replies, or structured chunks once negotiated. Runs on thread-pool threads, many at once
/// per connection; it touches only the request's own buffers and the thread-safe device.
/// </summary>
internal sealed class CommandProcessor(NbdExport export, NegotiatedSession session, Action<string> log)
{
    /// <summary>Block status looks at no more than this per request; clients continue where the reply stops.</summary>
    private const long MaxBlockStatusQuery = 1L << 30;

    private const CommandFlags AnyCommandFlags = CommandFlags.Fua;

    private readonly IBlockDevice _device = export.Device;
    private readonly ReplyBuffers _buffers = export.Buffers;

    [ThreadStatic] private static List<BlockExtent>? t_extents;

    /// <summary>Serves <paramref name="request"/>; <paramref name="payload"/> is the pooled WRITE data (returned to the pool here).</summary>
    public OutgoingReply Execute(in NbdRequest request, byte[]? payload, long cost)
    {
        try
        {
            var error = Validate(request);
            if (error != NbdError.None) return ErrorReply(request, error, $"{request.Command}: {Explain(error)}", cost);
            switch (request.Command)
            {
                case NbdCommand.Read:
                    return Read(request, cost);
                case NbdCommand.Write:
                    _device.Write(payload.AsSpan(0, (int)request.Length), (long)request.Offset);
                    break;
                case NbdCommand.Flush:
                    _device.Flush();
                    break;
                case NbdCommand.Trim:
                    _device.Discard((long)request.Offset, request.Length);
                    break;
                case NbdCommand.WriteZeroes:
                    // NO_HOLE accepted: the device decides how zeros are stored, reads return zeros either way.
                    _device.WriteZeroes((long)request.Offset, request.Length);
                    break;
                case NbdCommand.Cache:
                    break; // advisory only; the device reads from page cache anyway
                case NbdCommand.BlockStatus:
                    return BlockStatus(request, cost);
            }
            if ((request.Flags & CommandFlags.Fua) != 0 && IsWrite(request.Command)) _device.Flush();
            return SimpleReply(request, NbdError.None, cost);
        }
        catch (Exception e)
        {
            return FailureReply(request, e, cost);
        }
        finally
        {
            if (payload != null) _buffers.Return(payload);
        }
    }

    /// <summary>Checks a WRITE whose payload is streamed (longer than one chunk) before any of it is written.</summary>
    public NbdError CheckStreamedWrite(in NbdRequest request) => Validate(request);

    /// <summary>Writes one chunk of a streamed WRITE at <paramref name="position"/> bytes into the request.</summary>
    public void WriteChunk(in NbdRequest request, ReadOnlySpan<byte> chunk, long position) =>
        _device.Write(chunk, (long)request.Offset + position);

    /// <summary>The reply to a streamed WRITE: the error found before it, the first chunk that failed, or success (flushed with FUA).</summary>
    public OutgoingReply FinishStreamedWrite(in NbdRequest request, NbdError rejected, Exception? failure, long cost)
    {
        if (rejected != NbdError.None) return ErrorReply(request, rejected, $"{request.Command}: {Explain(rejected)}", cost);
        if (failure != null) return FailureReply(request, failure, cost);
        try
        {
            if ((request.Flags & CommandFlags.Fua) != 0) _device.Flush();
            return SimpleReply(request, NbdError.None, cost);
        }
        catch (Exception e)
        {
            return FailureReply(request, e, cost);
        }
    }

    private OutgoingReply FailureReply(in NbdRequest request, Exception e, long cost)
    {
        var error = e switch
        {
            ReadOnlyDeviceException => NbdError.Perm,
            ArgumentException => NbdError.Invalid,
            _ => NbdError.Io,
        };
        if (error == NbdError.Io) log($"{request.Command} at {request.Offset}+{request.Length} failed: {e.GetType().Name}: {e.Message}");
        return ErrorReply(request, error, $"{request.Command}: {e.Message}", cost);
    }

    private static bool IsWrite(NbdCommand command) =>
        command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;

    /// <summary>Flags, negotiation and range checks before touching the device (proto.md "Error values").</summary>
    private NbdError Validate(in NbdRequest request)
    {
        var allowed = AnyCommandFlags | request.Command switch
        {
            NbdCommand.Read when session.StructuredReplies => CommandFlags.DontFragment,
            NbdCommand.WriteZeroes => CommandFlags.NoHole,
            NbdCommand.BlockStatus => CommandFlags.RequestOne,
            _ => 0,
        };
        if ((request.Flags & ~allowed) != 0) return NbdError.Invalid;

        switch (request.Command)
        {
            case NbdCommand.Read:
            case NbdCommand.Cache:
                break;
            case NbdCommand.Write:
            case NbdCommand.Trim:
            case NbdCommand.WriteZeroes:
                if (!export.Writable) return NbdError.Perm;
                break;
            case NbdCommand.Flush:
                return NbdError.None;
            case NbdCommand.BlockStatus:
                if (!session.StructuredReplies || session.MetaContexts.Count == 0 || request.Length == 0) return NbdError.Invalid;
                break;
            default:
                return NbdError.Invalid;
        }
        return request.FitsIn(export.Size) ? NbdError.None : NbdError.Invalid;
    }

    private static string Explain(NbdError error) => error switch
    {
        NbdError.Perm => "the export is read-only",
        NbdError.Invalid => "invalid request (range outside the export, unknown command or flag, or no meta context)",
        _ => error.ToString(),
    };

    private OutgoingReply Read(in NbdRequest request, long cost)
    {
        int length = (int)request.Length;
        if (session.StructuredReplies && length > 0 && ReadsAsZeros(request)) return HoleReply(request, cost);
        // Past one stream chunk only the first chunk is read here; the writer streams the rest.
        int now = Math.Min(length, NbdWireSize.StreamChunk);
        var rest = length > now ? new DeferredRead((long)request.Offset + now, length - now) : null;
        byte[]? data = now > 0 ? _buffers.Rent(now) : null;
        try
        {
            if (data != null) _device.Read(data.AsSpan(0, now), (long)request.Offset);
        }
        catch
        {
            if (data != null) _buffers.Return(data);
            throw;
        }

        if (!session.StructuredReplies)
        {
            var simple = SimpleReply(request, NbdError.None, cost);
            return simple with { Payload = data, PayloadLength = now, Rest = rest };
        }
        if (length == 0) return StructuredNone(request, cost);

        // One OFFSET_DATA chunk marked DONE: the data is complete before the header goes out.
        byte[] head = _buffers.Rent(NbdWireSize.StructuredReplyHeader + 8);
        WriteChunkHeader(head, ReplyChunkFlags.Done, ReplyChunkType.OffsetData, request.Cookie, 8 + (uint)length);
        BinaryPrimitives.WriteUInt64BigEndian(head.AsSpan(NbdWireSize.StructuredReplyHeader), request.Offset);
        return new OutgoingReply(head, NbdWireSize.StructuredReplyHeader + 8, data, now, cost) { Rest = rest };
    }

    /// <summary>True when the device knows the whole range reads as zeros (holes, zero grains), so no data need be read or sent.</summary>
    private bool ReadsAsZeros(in NbdRequest request)
    {
        if (!export.Options.SparseReads) return false;
        var extents = t_extents ??= new List<BlockExtent>();
        extents.Clear();
        _device.GetExtents((long)request.Offset, request.Length, extents);
        foreach (var extent in extents)
            if (extent.Kind == ExtentKind.Data) return false;
        return extents.Count > 0;
    }

    /// <summary>One NBD_REPLY_TYPE_OFFSET_HOLE chunk (offset, size) marked DONE; valid with DF too (one content chunk).</summary>
    private OutgoingReply HoleReply(in NbdRequest request, long cost)
    {
        byte[] head = _buffers.Rent(NbdWireSize.StructuredReplyHeader + 12);
        WriteChunkHeader(head, ReplyChunkFlags.Done, ReplyChunkType.OffsetHole, request.Cookie, 12);
        BinaryPrimitives.WriteUInt64BigEndian(head.AsSpan(NbdWireSize.StructuredReplyHeader), request.Offset);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(NbdWireSize.StructuredReplyHeader + 8), request.Length);
        return new OutgoingReply(head, NbdWireSize.StructuredReplyHeader + 12, null, 0, cost);
    }

    /// <summary>One NBD_REPLY_TYPE_BLOCK_STATUS chunk per selected context, the last marked DONE.</summary>
    private OutgoingReply BlockStatus(in NbdRequest request, long cost)
    {
        var extents = t_extents ??= new List<BlockExtent>();
        extents.Clear();
        long queryLength = Math.Min(request.Length, MaxBlockStatusQuery);
        _device.GetExtents((long)request.Offset, queryLength, extents);
        bool requestOne = (request.Flags & CommandFlags.RequestOne) != 0;

        int maxDescriptors = Math.Min(BlockStatusEncoder.MaxDescriptors, extents.Count + 2);
        int chunkCapacity = NbdWireSize.StructuredReplyHeader + 4 + maxDescriptors * BlockStatusEncoder.DescriptorSize;
        var contexts = session.MetaContexts;
        byte[] head = _buffers.Rent(chunkCapacity * contexts.Count);
        int position = 0;
        for (int i = 0; i < contexts.Count; i++)
        {
            var chunk = head.AsSpan(position, chunkCapacity);
            int count = BlockStatusEncoder.Encode(contexts[i], extents, queryLength, requestOne, export.Options.TopGeneration,
                chunk[(NbdWireSize.StructuredReplyHeader + 4)..]);
            if (count == 0) // an extent list that covers nothing: say "no information" for the whole range
            {
                BinaryPrimitives.WriteUInt32BigEndian(chunk[(NbdWireSize.StructuredReplyHeader + 4)..], (uint)queryLength);
                BinaryPrimitives.WriteUInt32BigEndian(chunk[(NbdWireSize.StructuredReplyHeader + 8)..], 0);
                count = 1;
            }
            uint payloadLength = 4 + (uint)(count * BlockStatusEncoder.DescriptorSize);
            ushort flags = i == contexts.Count - 1 ? ReplyChunkFlags.Done : (ushort)0;
            WriteChunkHeader(chunk, flags, ReplyChunkType.BlockStatus, request.Cookie, payloadLength);
            BinaryPrimitives.WriteUInt32BigEndian(chunk[NbdWireSize.StructuredReplyHeader..], (uint)contexts[i]);
            position += NbdWireSize.StructuredReplyHeader + (int)payloadLength;
        }
        return new OutgoingReply(head, position, null, 0, cost);
    }

    private OutgoingReply ErrorReply(in NbdRequest request, NbdError error, string message, long cost)
    {
        // Structured clients get the reason as text; a READ must never get a simple reply then (proto.md).
        if (!session.StructuredReplies) return SimpleReply(request, error, cost);
        byte[] head = _buffers.Rent(NbdWireSize.StructuredReplyHeader + 6 + Encoding.UTF8.GetMaxByteCount(message.Length));
        // Messages are ours (ASCII plus exception text); 1024 bytes stays under the 4096-byte string limit.
        int messageLength = Math.Min(Encoding.UTF8.GetBytes(message, head.AsSpan(NbdWireSize.StructuredReplyHeader + 6)), 1024);
        WriteChunkHeader(head, ReplyChunkFlags.Done, ReplyChunkType.Error, request.Cookie, 6 + (uint)messageLength);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(NbdWireSize.StructuredReplyHeader), (uint)error);
        BinaryPrimitives.WriteUInt16BigEndian(head.AsSpan(NbdWireSize.StructuredReplyHeader + 4), (ushort)messageLength);
        return new OutgoingReply(head, NbdWireSize.StructuredReplyHeader + 6 + messageLength, null, 0, cost);
    }

    private OutgoingReply SimpleReply(in NbdRequest request, NbdError error, long cost)
    {
        byte[] head = _buffers.Rent(NbdWireSize.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(head, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(head.AsSpan(4), (uint)error);
        BinaryPrimitives.WriteUInt64BigEndian(head.AsSpan(8), request.Cookie);
        return new OutgoingReply(head, NbdWireSize.SimpleReply, null, 0, cost);
    }

    private OutgoingReply StructuredNone(in NbdRequest request, long cost)
    {
        byte[] head = _buffers.Rent(NbdWireSize.StructuredReplyHeader);
        WriteChunkHeader(head, ReplyChunkFlags.Done, ReplyChunkType.None, request.Cookie, 0);
        return new OutgoingReply(head, NbdWireSize.StructuredReplyHeader, null, 0, cost);
    }

    /// <summary>magic, flags, type, cookie, length (proto.md "Structured reply chunk message").</summary>
    private static void WriteChunkHeader(Span<byte> span, ushort flags, ReplyChunkType type, ulong cookie, uint payloadLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(span, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(span[4..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], cookie);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], payloadLength);
    }
}
