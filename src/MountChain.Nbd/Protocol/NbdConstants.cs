namespace MountChain.Nbd.Protocol;

// Every value below is from NetworkBlockDevice/nbd doc/proto.md; the section is named beside each group.
// All integers on the wire are big-endian (proto.md "Conventions").

/// <summary>Magic numbers (proto.md "Newstyle negotiation", "Request message", "Simple reply message", "Structured reply chunk message").</summary>
internal static class NbdMagic
{
    /// <summary>"NBDMAGIC": first 8 bytes the server sends.</summary>
    public const ulong InitPassword = 0x4e42444d41474943;
    /// <summary>"IHAVEOPT": second server magic, and the magic of every client option.</summary>
    public const ulong IHaveOpt = 0x49484156454F5054;
    /// <summary>Magic of every option reply.</summary>
    public const ulong OptionReply = 0x3e889045565a9;
    public const uint Request = 0x25609513;
    public const uint SimpleReply = 0x67446698;
    public const uint StructuredReply = 0x668e33ef;
}

/// <summary>Handshake flags (server, 16 bits) and client flags (32 bits) (proto.md "Handshake flags", "Client flags").</summary>
[Flags]
internal enum HandshakeFlags : ushort
{
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}

[Flags]
internal enum ClientFlags : uint
{
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
    All = FixedNewstyle | NoZeroes,
}

/// <summary>Transmission flags (proto.md "Transmission flags").</summary>
[Flags]
internal enum TransmissionFlags : ushort
{
    HasFlags = 1 << 0,
    ReadOnly = 1 << 1,
    SendFlush = 1 << 2,
    SendFua = 1 << 3,
    Rotational = 1 << 4,
    SendTrim = 1 << 5,
    SendWriteZeroes = 1 << 6,
    SendDf = 1 << 7,
    CanMultiConn = 1 << 8,
    SendCache = 1 << 10,
}

/// <summary>Option types (proto.md "Option types").</summary>
internal enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 9,
    SetMetaContext = 10,
}

/// <summary>Option reply types (proto.md "Option reply types"); errors have bit 31 set.</summary>
internal enum OptionReplyType : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    MetaContext = 4,
    ErrUnsupported = 0x8000_0001,
    ErrPolicy = 0x8000_0002,
    ErrInvalid = 0x8000_0003,
    ErrPlatform = 0x8000_0004,
    ErrTlsRequired = 0x8000_0005,
    ErrUnknown = 0x8000_0006,
    ErrShutdown = 0x8000_0007,
    ErrBlockSizeRequired = 0x8000_0008,
    ErrTooBig = 0x8000_0009,
}

/// <summary>Information types inside NBD_REP_INFO (proto.md "NBD_REP_INFO").</summary>
internal enum NbdInfo : ushort
{
    Export = 0,
    Name = 1,
    Description = 2,
    BlockSize = 3,
}

/// <summary>Request types (proto.md "Request types").</summary>
internal enum NbdCommand : ushort
{
    Read = 0,
    Write = 1,
    Disconnect = 2,
    Flush = 3,
    Trim = 4,
    Cache = 5,
    WriteZeroes = 6,
    BlockStatus = 7,
}

/// <summary>Command flags (proto.md "Command flags").</summary>
[Flags]
internal enum CommandFlags : ushort
{
    Fua = 1 << 0,
    NoHole = 1 << 1,
    DontFragment = 1 << 2,
    RequestOne = 1 << 3,
    FastZero = 1 << 4,
}

/// <summary>Structured reply chunk types and flags (proto.md "Structured reply types", "Structured reply flags").</summary>
internal enum ReplyChunkType : ushort
{
    None = 0,
    OffsetData = 1,
    OffsetHole = 2,
    BlockStatus = 5,
    Error = 0x8001,
    ErrorOffset = 0x8002,
}

internal static class ReplyChunkFlags
{
    public const ushort Done = 1 << 0;
}

/// <summary>Error values of the transmission phase (proto.md "Error values").</summary>
internal enum NbdError : uint
{
    None = 0,
    Perm = 1,
    Io = 5,
    NoMem = 12,
    Invalid = 22,
    NoSpace = 28,
    Overflow = 75,
    NotSupported = 95,
    Shutdown = 108,
}

/// <summary>Wire sizes of the fixed-length messages.</summary>
internal static class NbdWireSize
{
    /// <summary>magic 4 + flags 2 + type 2 + cookie 8 + offset 8 + length 4 (proto.md "Request message").</summary>
    public const int Request = 28;
    /// <summary>magic 4 + error 4 + cookie 8 (proto.md "Simple reply message").</summary>
    public const int SimpleReply = 16;
    /// <summary>magic 4 + flags 2 + type 2 + cookie 8 + length 4 (proto.md "Structured reply chunk message").</summary>
    public const int StructuredReplyHeader = 20;
    /// <summary>IHAVEOPT 8 + option 4 + length 4.</summary>
    public const int OptionHeader = 16;
    /// <summary>magic 8 + option 4 + type 4 + length 4.</summary>
    public const int OptionReplyHeader = 20;
    /// <summary>Largest READ/WRITE payload we accept (2^25, proto.md "Size constraints").</summary>
    public const int MaxPayload = 32 * 1024 * 1024;
    /// <summary>READ/WRITE payloads larger than this stream through one buffer of this size instead of being held whole.</summary>
    public const int StreamChunk = 1024 * 1024;
}

/// <summary>Field offsets inside a request (proto.md "Request message").</summary>
internal static class RequestField
{
    public const int Magic = 0;
    public const int Flags = Magic + 4;
    public const int Type = Flags + 2;
    public const int Cookie = Type + 2;
    public const int Offset = Cookie + 8;
    public const int Length = Offset + 8;
}

/// <summary>States of the base:allocation context (proto.md "base:allocation metadata context").</summary>
internal static class AllocationState
{
    public const uint Hole = 1 << 0;
    public const uint Zero = 1 << 1;
}
