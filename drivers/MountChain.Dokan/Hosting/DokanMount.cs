using System.Runtime.InteropServices;
using MountChain.Dokan.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>
/// One <see cref="IFileTree"/> mounted through Dokan (Windows, dokan2.dll from Dokan 2.x).
/// <see cref="Mount"/> returns once the volume is mounted; <see cref="WaitForExit"/> blocks until it
/// is unmounted; <see cref="RequestStop"/> removes the mount point.
/// </summary>
public sealed unsafe class DokanMount : IDisposable
{
    private readonly nint _instance;
    private readonly GCHandle _handler;
    private readonly DokanOptions* _options;
    private readonly DokanOperations* _operations;
    private readonly nint _mountPointText;
    private int _disposed;

    private DokanMount(string mountPoint, nint instance, GCHandle handler, DokanOptions* options, DokanOperations* operations, nint mountPointText)
    {
        MountPoint = mountPoint;
        _instance = instance;
        _handler = handler;
        _options = options;
        _operations = operations;
        _mountPointText = mountPointText;
    }

    public string MountPoint { get; }

    public static bool IsSupported => OperatingSystem.IsWindows() && NativeLibrary.TryLoad(Dokan2.Library, out _);

    /// <param name="mountPoint">A drive letter ("M:\") or an empty NTFS folder.</param>
    public static DokanMount Mount(IFileTree tree, string mountPoint)
    {
        if (!OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("Dokan runs on Windows only");
        Dokan2.Init();
        var handler = GCHandle.Alloc(new DokanRequestHandler(tree));
        // Dokan keeps pointers to both structures for the life of the mount: native memory, freed in Dispose.
        var options = (DokanOptions*)NativeMemory.AllocZeroed((nuint)DokanOptions.Size);
        var operations = (DokanOperations*)NativeMemory.AllocZeroed((nuint)sizeof(DokanOperations));
        nint text = Marshal.StringToHGlobalUni(mountPoint);
        options->Version = Dokan2.Version;
        options->GlobalContext = (ulong)GCHandle.ToIntPtr(handler);
        options->MountPoint = (char*)text;
        options->Options = Dokan2.OptionMountManager | (tree.CanWrite ? 0 : Dokan2.OptionWriteProtect);
        options->AllocationUnitSize = 4096;
        options->SectorSize = 512;
        *operations = DokanCallbacks.Table();
        nint instance;
        int status = Dokan2.CreateFileSystem(options, operations, &instance);
        if (status != 0)
        {
            NativeMemory.Free(options);
            NativeMemory.Free(operations);
            Marshal.FreeHGlobal(text);
            handler.Free();
            Dokan2.Shutdown();
            throw new IOException($"{mountPoint}: cannot mount: {Dokan2.Describe(status)}");
        }
        return new DokanMount(mountPoint, instance, handler, options, operations, text);
    }

    public void WaitForExit() => Dokan2.WaitForFileSystemClosed(_instance, Dokan2.Infinite);

    public void RequestStop() => Dokan2.RemoveMountPoint(MountPoint);

    /// <summary>Unmounts a Dokan mount point owned by any process.</summary>
    public static bool Unmount(string mountPoint) => Dokan2.RemoveMountPoint(mountPoint);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        RequestStop();
        WaitForExit();
        Dokan2.CloseHandle(_instance);
        Dokan2.Shutdown();
        NativeMemory.Free(_options);
        NativeMemory.Free(_operations);
        Marshal.FreeHGlobal(_mountPointText);
        _handler.Free();
    }
}
