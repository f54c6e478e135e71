using System.Runtime.InteropServices;

namespace MountChain.Dokan.Native;

/// <summary>The dokan2.dll entry points we call (dokany 2.x, dokan/dokan.h; DOKANAPI is __stdcall, the only convention on x64).</summary>
internal static unsafe partial class Dokan2
{
    public const string Library = "dokan2.dll";
    /// <summary>DOKAN_VERSION of the header the layouts come from (2.3.1).</summary>
    public const ushort Version = 231;

    public const uint OptionWriteProtect = 1 << 3;   // DOKAN_OPTION_WRITE_PROTECT
    public const uint OptionMountManager = 1 << 6;   // DOKAN_OPTION_MOUNT_MANAGER
    public const uint OptionCaseSensitive = 1 << 9;  // DOKAN_OPTION_CASE_SENSITIVE
    public const uint Infinite = 0xFFFFFFFF;

    [LibraryImport(Library, EntryPoint = "DokanInit")]
    public static partial void Init();

    [LibraryImport(Library, EntryPoint = "DokanShutdown")]
    public static partial void Shutdown();

    [LibraryImport(Library, EntryPoint = "DokanCreateFileSystem")]
    public static partial int CreateFileSystem(DokanOptions* options, DokanOperations* operations, nint* instance);

    [LibraryImport(Library, EntryPoint = "DokanWaitForFileSystemClosed")]
    public static partial uint WaitForFileSystemClosed(nint instance, uint milliseconds);

    [LibraryImport(Library, EntryPoint = "DokanCloseHandle")]
    public static partial void CloseHandle(nint instance);

    [LibraryImport(Library, EntryPoint = "DokanRemoveMountPoint", StringMarshalling = StringMarshalling.Utf16)]
    [return: MarshalAs(UnmanagedType.Bool)]
    public static partial bool RemoveMountPoint(string mountPoint);

    /// <summary>DokanMainResult codes (dokan.h) as messages.</summary>
    public static string Describe(int status) => status switch
    {
        0 => "success",
        -1 => "Dokan error",
        -2 => "bad drive letter",
        -3 => "cannot install the Dokan driver",
        -4 => "the Dokan driver reported an error",
        -5 => "cannot assign the drive letter or mount point (already in use?)",
        -6 => "bad mount point",
        -7 => "the Dokan library and driver versions do not match",
        _ => $"Dokan status {status}",
    };
}
