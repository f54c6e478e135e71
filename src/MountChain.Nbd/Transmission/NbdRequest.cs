using System.Buffers.Binary;
using MountChain.Nbd.Protocol;

namespace MountChain.Nbd.Transmission;

/// <summary>A decoded request header (proto.md "Request message").</summary>
internal readonly record struct NbdRequest(CommandFlags Flags, NbdCommand Command, ulong Cookie, ulong Offset, uint Length)
{
    /// <summary>Decodes the 28 header bytes; a wrong magic means we lost the framing and must hang up.</summary>
    public static NbdRequest Parse(ReadOnlySpan<byte> header)
    {
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(header[RequestField.Magic..]);
        if (magic != NbdMagic.Request)
            throw new NbdProtocolException($"bad request magic 0x{magic:x8}");
        return new NbdRequest(
            (CommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[RequestField.Flags..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[RequestField.Type..]),
            BinaryPrimitives.ReadUInt64BigEndian(header[RequestField.Cookie..]),
            BinaryPrimitives.ReadUInt64BigEndian(header[RequestField.Offset..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[RequestField.Length..]));
    }

    /// <summary>True when offset+length lies inside an export of <paramref name="size"/> bytes.</summary>
    public bool FitsIn(long size) => Offset <= (ulong)size && Length <= (ulong)size - Offset;
}
