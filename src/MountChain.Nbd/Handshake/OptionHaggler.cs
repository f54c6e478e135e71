using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using MountChain.Nbd.MetaContexts;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Server;
using MountChain.Nbd.Transport;

namespace MountChain.Nbd.Handshake;

/// <summary>
/// The fixed newstyle handshake (proto.md "Fixed newstyle negotiation", "Option types"): greets the
/// client, answers options until NBD_OPT_GO / NBD_OPT_EXPORT_NAME enters transmission, or the client
/// aborts. Bad framing throws <see cref="NbdProtocolException"/>; bad option contents get error replies.
/// NBD_OPT_STARTTLS upgrades the connection in place (proto.md "TLS support"); with TLS required,
/// every other option before it is refused.
/// </summary>
internal sealed class OptionHaggler(Socket socket, MessageReader reader, NbdExport export)
{
    /// <summary>Option data we are willing to hold; strings are at most 4096 bytes (proto.md "Conventions"), so this is generous.</summary>
    private const int MaxOptionLength = 64 * 1024;

    /// <summary>124 zero bytes that end an NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was agreed.</summary>
    private const int ExportNamePadding = 124;

    private readonly ArrayBufferWriter<byte> _out = new(256);
    private bool _structuredReplies;
    private bool _noZeroes;
    private List<MetaContext> _metaContexts = [];
    private NbdTransport _transport = reader.Transport;
    private bool _tls;

    /// <summary>Runs the handshake; null when the client ended it without entering transmission.</summary>
    public async Task<NegotiatedSession?> RunAsync(CancellationToken ct)
    {
        // S: NBDMAGIC, IHAVEOPT, handshake flags.
        PutU64(NbdMagic.InitPassword);
        PutU64(NbdMagic.IHaveOpt);
        PutU16((ushort)(HandshakeFlags.FixedNewstyle | HandshakeFlags.NoZeroes));
        await FlushAsync(ct);

        if (!await reader.EnsureAsync(4, ct)) return null;
        uint clientFlags = BinaryPrimitives.ReadUInt32BigEndian(reader.Peek(4));
        reader.Consume(4);
        if ((clientFlags & ~(uint)ClientFlags.All) != 0)
            throw new NbdProtocolException($"unknown client flags 0x{clientFlags:x8} in handshake");
        _noZeroes = (clientFlags & (uint)ClientFlags.NoZeroes) != 0;

        while (true)
        {
            if (!await reader.EnsureAsync(NbdWireSize.OptionHeader, ct)) return null;
            var header = reader.Peek(NbdWireSize.OptionHeader);
            ulong magic = BinaryPrimitives.ReadUInt64BigEndian(header);
            uint option = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
            reader.Consume(NbdWireSize.OptionHeader);
            if (magic != NbdMagic.IHaveOpt)
                throw new NbdProtocolException($"bad option magic 0x{magic:x16} in handshake");
            if (length > MaxOptionLength)
                throw new NbdProtocolException($"option {option} carries {length} bytes (more than {MaxOptionLength})");

            byte[] data = new byte[length];
            await reader.ReadExactAsync(data, ct);

            var outcome = RefusedBeforeTls((NbdOption)option) ?? Answer((NbdOption)option, data);
            await FlushAsync(ct);
            switch (outcome)
            {
                case Outcome.StartTls:
                    await StartTlsAsync(ct);
                    break;
                case Outcome.Transmission:
                    return new NegotiatedSession(_structuredReplies, _metaContexts, _transport);
                case Outcome.Close:
                    return null;
            }
        }
    }

    private enum Outcome { Continue, StartTls, Transmission, Close }

    /// <summary>With TLS required, only STARTTLS and ABORT are answered in plaintext (proto.md "TLS support").</summary>
    private Outcome? RefusedBeforeTls(NbdOption option)
    {
        if (_tls || export.Options.Tls != NbdTlsMode.Require || option is NbdOption.StartTls or NbdOption.Abort) return null;
        // NBD_OPT_EXPORT_NAME has no error reply: the only refusal is to hang up.
        if (option == NbdOption.ExportName)
            throw new NbdProtocolException("NBD_OPT_EXPORT_NAME before NBD_OPT_STARTTLS, and TLS is required");
        return Error(option, OptionReplyType.ErrTlsRequired, "TLS is required: send NBD_OPT_STARTTLS first");
    }

    /// <summary>The STARTTLS acknowledgement went out in plaintext; everything after it is TLS. Nothing negotiated before carries over.</summary>
    private async Task StartTlsAsync(CancellationToken ct)
    {
        _transport = await TlsUpgrade.RunAsync(socket, export.Options, ct);
        reader.Transport = _transport;
        _tls = true;
        _structuredReplies = false;
        _metaContexts = [];
    }

    private Outcome Answer(NbdOption option, byte[] data)
    {
        switch (option)
        {
            case NbdOption.ExportName:
            {
                string name = Encoding.UTF8.GetString(data);
                // No way to send an error here: the spec says terminate the session.
                if (!export.Answers(name))
                    throw new NbdProtocolException($"NBD_OPT_EXPORT_NAME asked for unknown export '{Printable(name)}'");
                PutU64((ulong)export.Size);
                PutU16((ushort)export.FlagsFor(_structuredReplies));
                if (!_noZeroes) _out.GetSpan(ExportNamePadding)[..ExportNamePadding].Clear();
                if (!_noZeroes) _out.Advance(ExportNamePadding);
                return Outcome.Transmission;
            }
            case NbdOption.Abort:
                Reply(option, OptionReplyType.Ack);
                return Outcome.Close;
            case NbdOption.List:
                if (data.Length != 0) return Error(option, OptionReplyType.ErrInvalid, "NBD_OPT_LIST takes no data");
                ReplyServer(option);
                Reply(option, OptionReplyType.Ack);
                return Outcome.Continue;
            case NbdOption.Info:
            case NbdOption.Go:
                return AnswerInfoOrGo(option, data);
            case NbdOption.StructuredReply:
                if (data.Length != 0) return Error(option, OptionReplyType.ErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
                _structuredReplies = true;
                Reply(option, OptionReplyType.Ack);
                return Outcome.Continue;
            case NbdOption.ListMetaContext:
            case NbdOption.SetMetaContext:
                return AnswerMetaContext(option, data);
            case NbdOption.StartTls:
                if (export.Options.Tls == NbdTlsMode.Off) return Error(option, OptionReplyType.ErrUnsupported, "TLS is not enabled on this server");
                if (_tls) return Error(option, OptionReplyType.ErrInvalid, "TLS is already in use");
                if (data.Length != 0) return Error(option, OptionReplyType.ErrInvalid, "NBD_OPT_STARTTLS takes no data");
                // Bytes after STARTTLS but before its reply would be plaintext read as TLS.
                if (reader.Buffered != 0) throw new NbdProtocolException("data sent after NBD_OPT_STARTTLS before its reply");
                Reply(option, OptionReplyType.Ack);
                return Outcome.StartTls;
            default:
                return Error(option, OptionReplyType.ErrUnsupported, $"option {(uint)option} is not supported");
        }
    }

    /// <summary>proto.md "NBD_OPT_INFO and NBD_OPT_GO": name length, name, count of info requests, the requests.</summary>
    private Outcome AnswerInfoOrGo(NbdOption option, byte[] data)
    {
        ReadOnlySpan<byte> span = data;
        if (span.Length < 6) return Error(option, OptionReplyType.ErrInvalid, "option data shorter than 6 bytes");
        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(span);
        if (nameLength > span.Length - 6) return Error(option, OptionReplyType.ErrInvalid, "export name longer than the option");
        string name = Encoding.UTF8.GetString(span.Slice(4, (int)nameLength));
        var rest = span[(4 + (int)nameLength)..];
        int requests = BinaryPrimitives.ReadUInt16BigEndian(rest);
        if (rest.Length != 2 + requests * 2) return Error(option, OptionReplyType.ErrInvalid, "information request list does not match the option length");
        if (!export.Answers(name)) return Error(option, OptionReplyType.ErrUnknown, $"no export named '{Printable(name)}'");

        bool wantName = false, wantDescription = false;
        for (int i = 0; i < requests; i++)
        {
            switch ((NbdInfo)BinaryPrimitives.ReadUInt16BigEndian(rest[(2 + i * 2)..]))
            {
                case NbdInfo.Name: wantName = true; break;
                case NbdInfo.Description: wantDescription = true; break;
            }
        }

        // NBD_INFO_EXPORT: type, size, flags.
        var info = BeginReply(option, OptionReplyType.Info, 12);
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)NbdInfo.Export);
        BinaryPrimitives.WriteUInt64BigEndian(info[2..], (ulong)export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(info[10..], (ushort)export.FlagsFor(_structuredReplies));
        _out.Advance(12);

        // NBD_INFO_BLOCK_SIZE always: min 1 is the default, so clients that did not ask lose nothing.
        info = BeginReply(option, OptionReplyType.Info, 14);
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)NbdInfo.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[2..], NbdExport.MinimumBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[6..], NbdExport.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[10..], NbdExport.MaximumPayload);
        _out.Advance(14);

        if (wantName) ReplyInfoString(option, NbdInfo.Name, export.Name);
        if (wantDescription && export.Description.Length > 0) ReplyInfoString(option, NbdInfo.Description, export.Description);

        Reply(option, OptionReplyType.Ack);
        return option == NbdOption.Go ? Outcome.Transmission : Outcome.Continue;
    }

    /// <summary>proto.md "NBD_OPT_LIST_META_CONTEXT" / "NBD_OPT_SET_META_CONTEXT": export name, query count, queries.</summary>
    private Outcome AnswerMetaContext(NbdOption option, byte[] data)
    {
        bool listing = option == NbdOption.ListMetaContext;
        if (!listing) _metaContexts = []; // SET replaces the selection even when it fails.
        if (!_structuredReplies)
            return Error(option, OptionReplyType.ErrInvalid, "negotiate NBD_OPT_STRUCTURED_REPLY before meta contexts");

        ReadOnlySpan<byte> span = data;
        if (span.Length < 8) return Error(option, OptionReplyType.ErrInvalid, "option data shorter than 8 bytes");
        uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(span);
        if (nameLength > span.Length - 8) return Error(option, OptionReplyType.ErrInvalid, "export name longer than the option");
        string name = Encoding.UTF8.GetString(span.Slice(4, (int)nameLength));
        span = span[(4 + (int)nameLength)..];
        uint queryCount = BinaryPrimitives.ReadUInt32BigEndian(span);
        span = span[4..];

        var queries = new List<string>();
        for (uint i = 0; i < queryCount; i++)
        {
            if (span.Length < 4) return Error(option, OptionReplyType.ErrInvalid, "query list shorter than its count");
            uint queryLength = BinaryPrimitives.ReadUInt32BigEndian(span);
            if (queryLength > span.Length - 4) return Error(option, OptionReplyType.ErrInvalid, "query longer than the option");
            queries.Add(Encoding.UTF8.GetString(span.Slice(4, (int)queryLength)));
            span = span[(4 + (int)queryLength)..];
        }
        if (!span.IsEmpty) return Error(option, OptionReplyType.ErrInvalid, "trailing bytes after the queries");
        if (!export.Answers(name)) return Error(option, OptionReplyType.ErrUnknown, $"no export named '{Printable(name)}'");

        var matched = new List<MetaContext>();
        if (listing && queries.Count == 0) matched.AddRange(MetaContextNames.All);
        foreach (var query in queries)
            foreach (var context in MetaContextNames.Match(query, listing))
                if (!matched.Contains(context)) matched.Add(context);

        foreach (var context in matched)
        {
            byte[] contextName = Encoding.UTF8.GetBytes(MetaContextNames.NameOf(context));
            var payload = BeginReply(option, OptionReplyType.MetaContext, 4 + contextName.Length);
            // The id is meaningful only for SET; LIST sends 0 (proto.md).
            BinaryPrimitives.WriteUInt32BigEndian(payload, listing ? 0 : (uint)context);
            contextName.CopyTo(payload[4..]);
            _out.Advance(4 + contextName.Length);
        }
        if (!listing) _metaContexts = matched;
        Reply(option, OptionReplyType.Ack);
        return Outcome.Continue;
    }

    private void ReplyServer(NbdOption option)
    {
        byte[] name = Encoding.UTF8.GetBytes(export.Name);
        byte[] description = Encoding.UTF8.GetBytes(export.Description);
        var payload = BeginReply(option, OptionReplyType.Server, 4 + name.Length + description.Length);
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)name.Length);
        name.CopyTo(payload[4..]);
        description.CopyTo(payload[(4 + name.Length)..]);
        _out.Advance(4 + name.Length + description.Length);
    }

    private void ReplyInfoString(NbdOption option, NbdInfo type, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var payload = BeginReply(option, OptionReplyType.Info, 2 + bytes.Length);
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)type);
        bytes.CopyTo(payload[2..]);
        _out.Advance(2 + bytes.Length);
    }

    private Outcome Error(NbdOption option, OptionReplyType type, string message)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(message);
        var payload = BeginReply(option, type, bytes.Length);
        bytes.CopyTo(payload);
        _out.Advance(bytes.Length);
        return Outcome.Continue;
    }

    private void Reply(NbdOption option, OptionReplyType type) => BeginReply(option, type, 0);

    /// <summary>Writes an option reply header (magic, option, type, length) and returns the span for the payload; the caller advances past it.</summary>
    private Span<byte> BeginReply(NbdOption option, OptionReplyType type, int payloadLength)
    {
        var span = _out.GetSpan(NbdWireSize.OptionReplyHeader + payloadLength);
        BinaryPrimitives.WriteUInt64BigEndian(span, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], (uint)payloadLength);
        _out.Advance(NbdWireSize.OptionReplyHeader);
        return _out.GetSpan(payloadLength)[..payloadLength];
    }

    private void PutU64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_out.GetSpan(8), value);
        _out.Advance(8);
    }

    private void PutU16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_out.GetSpan(2), value);
        _out.Advance(2);
    }

    private async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_out.WrittenCount == 0) return;
        await _transport.SendAsync(_out.WrittenMemory, ct);
        _out.ResetWrittenCount();
    }

    /// <summary>Names from the wire go into log lines: keep them short and printable.</summary>
    internal static string Printable(string s)
    {
        var chars = s.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray();
        return new string(chars) + (s.Length > 64 ? "…" : "");
    }
}
