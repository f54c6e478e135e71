using System.Runtime.InteropServices;

namespace MountChain.Fuse.Native;

/// <summary>
/// The libfuse 3 high-level entry points we call (Debian package fuse3 / libfuse3-3, soname
/// libfuse3.so.3). libfuse versions its symbols; the unversioned names below resolve to the
/// default versions of 3.12+: fuse_new → fuse_new_31, and fuse_loop_mt_312 takes the opaque
/// loop configuration made by fuse_loop_cfg_create (which replaced struct fuse_loop_config_v1).
/// </summary>
internal static unsafe partial class LibFuse
{
    public const string Library = "libfuse3.so.3";

    /// <summary>FUSE_CAP_ASYNC_DIO (fuse_common.h): the kernel may split large O_DIRECT requests and send the pieces in parallel.</summary>
    public const uint CapAsyncDio = 1u << 15;
    /// <summary>FUSE_CAP_SPLICE_READ: not wanted, our read callback fills a plain buffer.</summary>
    public const uint CapSpliceRead = 1u << 9;

    [LibraryImport(Library, EntryPoint = "fuse_new")]
    public static partial nint New(FuseArgs* args, FuseOperations* operations, nuint operationsSize, nint privateData);

    [LibraryImport(Library, EntryPoint = "fuse_mount")]
    public static partial int Mount(nint fuse, byte* mountPoint);

    [LibraryImport(Library, EntryPoint = "fuse_unmount")]
    public static partial void Unmount(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_destroy")]
    public static partial void Destroy(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_exit")]
    public static partial void Exit(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_get_session")]
    public static partial nint GetSession(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_session_exit")]
    public static partial void SessionExit(nint session);

    [LibraryImport(Library, EntryPoint = "fuse_get_context")]
    public static partial FuseContext* GetContext();

    [LibraryImport(Library, EntryPoint = "fuse_loop_mt_312")]
    public static partial int LoopMultiThreaded(nint fuse, nint loopConfig);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_create")]
    public static partial nint LoopConfigCreate();

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_destroy")]
    public static partial void LoopConfigDestroy(nint config);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_clone_fd")]
    public static partial void LoopConfigSetCloneFd(nint config, uint value);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_idle_threads")]
    public static partial void LoopConfigSetIdleThreads(nint config, uint value);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    public static partial void LoopConfigSetMaxThreads(nint config, uint value);

    [LibraryImport(Library, EntryPoint = "fuse_opt_free_args")]
    public static partial void FreeArgs(FuseArgs* args);

    /// <summary>fuse_set_log_func(void (*)(enum fuse_log_level, const char *fmt, va_list ap)).</summary>
    [LibraryImport(Library, EntryPoint = "fuse_set_log_func")]
    public static partial void SetLogFunction(delegate* unmanaged[Cdecl]<int, byte*, nint, void> function);

    /// <summary>True when libfuse3 can be loaded in this process.</summary>
    public static bool IsAvailable()
    {
        if (!NativeLibrary.TryLoad(Library, out var handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }
}
