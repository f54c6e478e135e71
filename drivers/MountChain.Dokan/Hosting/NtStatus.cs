using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>NTSTATUS values (ntstatus.h) the Dokan front-end returns, and the one each <see cref="FileTreeError"/> becomes.</summary>
public static class NtStatus
{
    public const uint Success = 0x00000000;
    public const uint EndOfFile = 0xC0000011;
    public const uint InvalidParameter = 0xC000000D;
    public const uint AccessDenied = 0xC0000022;
    public const uint ObjectNameNotFound = 0xC0000034;
    public const uint ObjectNameCollision = 0xC0000035;
    public const uint ObjectPathNotFound = 0xC000003A;
    public const uint DiskFull = 0xC000007F;
    public const uint MediaWriteProtected = 0xC00000A2;
    public const uint FileIsADirectory = 0xC00000BA;
    public const uint NotSupported = 0xC00000BB;
    public const uint NotADirectory = 0xC0000103;
    public const uint NotImplemented = 0xC0000002;
    public const uint BufferOverflow = 0x80000005;
    public const uint IoDeviceError = 0xC0000185;

    public static uint From(FileTreeError error) => error switch
    {
        FileTreeError.NotFound => ObjectNameNotFound,
        FileTreeError.NotADirectory => NotADirectory,
        FileTreeError.IsADirectory => FileIsADirectory,
        FileTreeError.ReadOnly => MediaWriteProtected,
        FileTreeError.NotPermitted => AccessDenied,
        FileTreeError.InvalidArgument => InvalidParameter,
        FileTreeError.NoData => EndOfFile,
        FileTreeError.NoSpace => DiskFull,
        FileTreeError.NotSupported => NotSupported,
        _ => IoDeviceError,
    };

    public static uint From(Exception e) => From(FileTreeErrors.Classify(e));
}
