using System.Runtime.InteropServices;

namespace MountChain.Dokan.Native;

// Layouts of dokany 2.x dokan/dokan.h (DOKAN_VERSION 231) and the Win32 structures its callbacks
// take, for 64-bit Windows (LLP64: ULONG/DWORD 4 bytes, pointers 8). Offsets are written out so a
// reader can check them against the header.

/// <summary>DOKAN_OPTIONS.</summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct DokanOptions
{
    /// <summary>VOLUME_SECURITY_DESCRIPTOR_MAX_SIZE (sys/public.h): 16 KiB.</summary>
    public const int SecurityDescriptorMaxSize = 1024 * 16;
    public const int Size = 48 + SecurityDescriptorMaxSize;

    [FieldOffset(0)] public ushort Version;
    [FieldOffset(2)] public byte SingleThread;
    [FieldOffset(4)] public uint Options;
    [FieldOffset(8)] public ulong GlobalContext;
    [FieldOffset(16)] public char* MountPoint;
    [FieldOffset(24)] public char* UncName;
    [FieldOffset(32)] public uint Timeout;
    [FieldOffset(36)] public uint AllocationUnitSize;
    [FieldOffset(40)] public uint SectorSize;
    [FieldOffset(44)] public uint VolumeSecurityDescriptorLength;
    // [48] CHAR VolumeSecurityDescriptor[VOLUME_SECURITY_DESCRIPTOR_MAX_SIZE]
}

/// <summary>DOKAN_FILE_INFO.</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal unsafe struct DokanFileInfo
{
    [FieldOffset(0)] public ulong Context;
    [FieldOffset(8)] public ulong DokanContext;
    [FieldOffset(16)] public DokanOptions* DokanOptions;
    [FieldOffset(24)] public nint ProcessingContext;
    [FieldOffset(32)] public uint ProcessId;
    [FieldOffset(36)] public byte IsDirectory;
    [FieldOffset(37)] public byte DeletePending;
    [FieldOffset(38)] public byte PagingIo;
    [FieldOffset(39)] public byte SynchronousIo;
    [FieldOffset(40)] public byte Nocache;
    [FieldOffset(41)] public byte WriteToEndOfFile;
}

/// <summary>DOKAN_OPERATIONS: 25 callbacks in this order; null entries answer STATUS_NOT_IMPLEMENTED.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DokanOperations
{
    public const int Count = 25;
    public nint ZwCreateFile, Cleanup, CloseFile, ReadFile, WriteFile, FlushFileBuffers, GetFileInformation,
        FindFiles, FindFilesWithPattern, SetFileAttributes, SetFileTime, DeleteFile, DeleteDirectory, MoveFile,
        SetEndOfFile, SetAllocationSize, LockFile, UnlockFile, GetDiskFreeSpace, GetVolumeInformation, Mounted,
        Unmounted, GetFileSecurity, SetFileSecurity, FindStreams;
}

/// <summary>BY_HANDLE_FILE_INFORMATION (fileapi.h); FILETIMEs are pairs of DWORDs, so 4-byte aligned.</summary>
[StructLayout(LayoutKind.Explicit, Size = 52)]
internal struct ByHandleFileInformation
{
    [FieldOffset(0)] public uint FileAttributes;
    [FieldOffset(4)] public long CreationTime;
    [FieldOffset(12)] public long LastAccessTime;
    [FieldOffset(20)] public long LastWriteTime;
    [FieldOffset(28)] public uint VolumeSerialNumber;
    [FieldOffset(32)] public uint FileSizeHigh;
    [FieldOffset(36)] public uint FileSizeLow;
    [FieldOffset(40)] public uint NumberOfLinks;
    [FieldOffset(44)] public uint FileIndexHigh;
    [FieldOffset(48)] public uint FileIndexLow;
}

/// <summary>WIN32_FIND_DATAW (minwinbase.h).</summary>
[StructLayout(LayoutKind.Explicit, Size = 592)]
internal unsafe struct Win32FindData
{
    public const int MaxPath = 260;
    [FieldOffset(0)] public uint FileAttributes;
    [FieldOffset(4)] public long CreationTime;
    [FieldOffset(12)] public long LastAccessTime;
    [FieldOffset(20)] public long LastWriteTime;
    [FieldOffset(28)] public uint FileSizeHigh;
    [FieldOffset(32)] public uint FileSizeLow;
    [FieldOffset(36)] public uint Reserved0;
    [FieldOffset(40)] public uint Reserved1;
    [FieldOffset(44)] public fixed char FileName[MaxPath];
    [FieldOffset(564)] public fixed char AlternateFileName[14];
}
