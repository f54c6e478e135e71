using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MountChain.Dokan.Hosting;
using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Native;

/// <summary>
/// The DOKAN_OPERATIONS entries: unmanaged entry points that find the mount's
/// <see cref="DokanRequestHandler"/> (a GCHandle in DOKAN_OPTIONS.GlobalContext) and keep each
/// open file as a GCHandle in DOKAN_FILE_INFO.Context, freed in CloseFile.
/// </summary>
internal static unsafe class DokanCallbacks
{
    // GetVolumeInformation FileSystemFlags (winnt.h).
    private const uint CasePreservedNames = 0x2, UnicodeOnDisk = 0x4, SupportsSparseFiles = 0x40, ReadOnlyVolume = 0x80000;
    private const uint MaxComponentLength = 255;
    private const string VolumeLabel = "MountChain";
    private const string FileSystemName = "MountChain";

    public static DokanOperations Table() => new()
    {
        ZwCreateFile = (nint)(delegate* unmanaged[Stdcall]<char*, nint, uint, uint, uint, uint, uint, DokanFileInfo*, uint>)&ZwCreateFile,
        Cleanup = (nint)(delegate* unmanaged[Stdcall]<char*, DokanFileInfo*, void>)&Cleanup,
        CloseFile = (nint)(delegate* unmanaged[Stdcall]<char*, DokanFileInfo*, void>)&CloseFile,
        ReadFile = (nint)(delegate* unmanaged[Stdcall]<char*, byte*, uint, uint*, long, DokanFileInfo*, uint>)&ReadFile,
        WriteFile = (nint)(delegate* unmanaged[Stdcall]<char*, byte*, uint, uint*, long, DokanFileInfo*, uint>)&WriteFile,
        FlushFileBuffers = (nint)(delegate* unmanaged[Stdcall]<char*, DokanFileInfo*, uint>)&FlushFileBuffers,
        GetFileInformation = (nint)(delegate* unmanaged[Stdcall]<char*, ByHandleFileInformation*, DokanFileInfo*, uint>)&GetFileInformation,
        FindFiles = (nint)(delegate* unmanaged[Stdcall]<char*, nint, DokanFileInfo*, uint>)&FindFiles,
        SetFileAttributes = (nint)(delegate* unmanaged[Stdcall]<char*, uint, DokanFileInfo*, uint>)&SetFileAttributes,
        SetFileTime = (nint)(delegate* unmanaged[Stdcall]<char*, long*, long*, long*, DokanFileInfo*, uint>)&SetFileTime,
        DeleteFile = (nint)(delegate* unmanaged[Stdcall]<char*, DokanFileInfo*, uint>)&Delete,
        DeleteDirectory = (nint)(delegate* unmanaged[Stdcall]<char*, DokanFileInfo*, uint>)&Delete,
        MoveFile = (nint)(delegate* unmanaged[Stdcall]<char*, char*, int, DokanFileInfo*, uint>)&MoveFile,
        SetEndOfFile = (nint)(delegate* unmanaged[Stdcall]<char*, long, DokanFileInfo*, uint>)&Resize,
        SetAllocationSize = (nint)(delegate* unmanaged[Stdcall]<char*, long, DokanFileInfo*, uint>)&Resize,
        GetDiskFreeSpace = (nint)(delegate* unmanaged[Stdcall]<ulong*, ulong*, ulong*, DokanFileInfo*, uint>)&GetDiskFreeSpace,
        GetVolumeInformation = (nint)(delegate* unmanaged[Stdcall]<char*, uint, uint*, uint*, uint*, char*, uint, DokanFileInfo*, uint>)&GetVolumeInformation,
    };

    private static DokanRequestHandler HandlerOf(DokanFileInfo* info) =>
        (DokanRequestHandler)GCHandle.FromIntPtr((nint)info->DokanOptions->GlobalContext).Target!;

    private static IOpenFile? FileOf(DokanFileInfo* info) =>
        info->Context == 0 ? null : (IOpenFile)GCHandle.FromIntPtr((nint)info->Context).Target!;

    private static string PathOf(char* path) => path == null ? "\\" : new string(path);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint ZwCreateFile(char* fileName, nint securityContext, uint desiredAccess, uint fileAttributes,
        uint shareAccess, uint createDisposition, uint createOptions, DokanFileInfo* info)
    {
        try
        {
            var decision = HandlerOf(info).Create(PathOf(fileName), desiredAccess, createDisposition, createOptions, out var file);
            if (decision.Succeeded)
            {
                info->IsDirectory = decision.IsDirectory ? (byte)1 : (byte)0;
                if (file is not null) info->Context = (ulong)GCHandle.ToIntPtr(GCHandle.Alloc(file));
            }
            return decision.Status;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static void Cleanup(char* fileName, DokanFileInfo* info)
    {
        try { FileOf(info)?.FlushIfDirty(); }
        catch { }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static void CloseFile(char* fileName, DokanFileInfo* info)
    {
        try
        {
            if (info->Context == 0) return;
            var handle = GCHandle.FromIntPtr((nint)info->Context);
            info->Context = 0;
            (handle.Target as IOpenFile)?.Dispose();
            handle.Free();
        }
        catch { }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint ReadFile(char* fileName, byte* buffer, uint length, uint* read, long offset, DokanFileInfo* info)
    {
        try
        {
            *read = 0;
            var file = FileOf(info);
            if (file is null) return NtStatus.InvalidParameter;
            uint status = HandlerOf(info).Read(file, new Span<byte>(buffer, (int)Math.Min(length, int.MaxValue)), offset, out int n);
            *read = (uint)n;
            return status;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint WriteFile(char* fileName, byte* data, uint length, uint* written, long offset, DokanFileInfo* info)
    {
        try
        {
            *written = 0;
            var file = FileOf(info);
            if (file is null) return NtStatus.InvalidParameter;
            uint status = HandlerOf(info).Write(file, new ReadOnlySpan<byte>(data, (int)Math.Min(length, int.MaxValue)), offset,
                info->WriteToEndOfFile != 0, out int n);
            *written = (uint)n;
            return status;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint FlushFileBuffers(char* fileName, DokanFileInfo* info)
    {
        try { return FileOf(info) is { } file ? HandlerOf(info).Flush(file) : NtStatus.Success; }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint GetFileInformation(char* fileName, ByHandleFileInformation* result, DokanFileInfo* info)
    {
        try
        {
            uint status = HandlerOf(info).GetInformation(PathOf(fileName), FileOf(info), out var node);
            if (status != NtStatus.Success) return status;
            long time = WindowsAttributes.FileTime(node!);
            *result = new ByHandleFileInformation
            {
                FileAttributes = WindowsAttributes.Of(node!),
                CreationTime = WindowsAttributes.CreationTime(node!),
                LastAccessTime = WindowsAttributes.AccessTime(node!),
                LastWriteTime = time,
                FileSizeHigh = WindowsAttributes.High(node!.Size),
                FileSizeLow = WindowsAttributes.Low(node.Size),
                NumberOfLinks = WindowsAttributes.Links(node!),
                FileIndexHigh = WindowsAttributes.High(node.Id),
                FileIndexLow = WindowsAttributes.Low(node.Id),
            };
            return NtStatus.Success;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint FindFiles(char* fileName, nint fillFindData, DokanFileInfo* info)
    {
        try
        {
            uint status = HandlerOf(info).List(PathOf(fileName), out var entries);
            if (status != NtStatus.Success) return status;
            var fill = (delegate* unmanaged[Stdcall]<Win32FindData*, DokanFileInfo*, int>)fillFindData;
            foreach (var node in entries!)
            {
                if (node.Name.Length >= Win32FindData.MaxPath) continue;
                var data = new Win32FindData();
                long time = WindowsAttributes.FileTime(node);
                data.FileAttributes = WindowsAttributes.Of(node);
                data.CreationTime = WindowsAttributes.CreationTime(node);
                data.LastAccessTime = WindowsAttributes.AccessTime(node);
                data.LastWriteTime = time;
                data.FileSizeHigh = WindowsAttributes.High(node.Size);
                data.FileSizeLow = WindowsAttributes.Low(node.Size);
                node.Name.AsSpan().CopyTo(new Span<char>(data.FileName, Win32FindData.MaxPath));
                // PFillFindData returns 1 when the kernel's buffer is full.
                if (fill(&data, info) != 0) break;
            }
            return NtStatus.Success;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint SetFileAttributes(char* fileName, uint attributes, DokanFileInfo* info) => Refuse(info);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint SetFileTime(char* fileName, long* creation, long* access, long* write, DokanFileInfo* info) => Refuse(info);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint Delete(char* fileName, DokanFileInfo* info) => Refuse(info);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint MoveFile(char* fileName, char* newName, int replace, DokanFileInfo* info) => Refuse(info);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint Resize(char* fileName, long size, DokanFileInfo* info)
    {
        try { return HandlerOf(info).Resize(PathOf(fileName), FileOf(info), size); }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint GetDiskFreeSpace(ulong* available, ulong* total, ulong* free, DokanFileInfo* info)
    {
        try
        {
            var space = HandlerOf(info).Space();
            if (available != null) *available = space.Available;
            if (total != null) *total = space.Total;
            if (free != null) *free = space.Free;
            return NtStatus.Success;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvStdcall)])]
    private static uint GetVolumeInformation(char* volumeName, uint volumeNameSize, uint* serial, uint* maxComponent,
        uint* flags, char* fileSystemName, uint fileSystemNameSize, DokanFileInfo* info)
    {
        try
        {
            var handler = HandlerOf(info);
            CopyString(VolumeLabel, volumeName, volumeNameSize);
            CopyString(FileSystemName, fileSystemName, fileSystemNameSize);
            if (serial != null) *serial = 0x4D43_0001;
            if (maxComponent != null) *maxComponent = MaxComponentLength;
            if (flags != null)
                *flags = CasePreservedNames | UnicodeOnDisk | SupportsSparseFiles | (handler.Tree.CanWrite ? 0 : ReadOnlyVolume);
            return NtStatus.Success;
        }
        catch { return NtStatus.IoDeviceError; }
    }

    private static void CopyString(string text, char* buffer, uint capacity)
    {
        if (buffer == null || capacity == 0) return;
        int n = (int)Math.Min((uint)text.Length, capacity - 1);
        text.AsSpan(0, n).CopyTo(new Span<char>(buffer, n));
        buffer[n] = '\0';
    }

    private static uint Refuse(DokanFileInfo* info)
    {
        try { return HandlerOf(info).RefuseChange(); }
        catch { return NtStatus.AccessDenied; }
    }
}
