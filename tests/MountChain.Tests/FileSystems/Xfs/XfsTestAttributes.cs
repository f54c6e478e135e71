using System.Runtime.InteropServices;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>Environment probes shared by the XFS test attributes.</summary>
internal static partial class XfsTestEnvironment
{
    [LibraryImport("libc")]
    private static partial uint geteuid();

    public static bool IsRoot => OperatingSystem.IsLinux() && geteuid() == 0;

    public static bool HasXfsTools => OperatingSystem.IsLinux() && ToolLocator.Exists("mkfs.xfs") && ToolLocator.Exists("xfs_db");

    /// <summary>The kernel can mount XFS when it is built in or the module is available.</summary>
    public static bool KernelHasXfs =>
        File.Exists("/proc/filesystems") && File.ReadAllText("/proc/filesystems").Split('\n').Any(l => l.Trim() == "xfs")
        || Directory.Exists("/sys/module/xfs")
        || Directory.Exists($"/lib/modules/{Environment.OSVersion.Version}") && ToolLocator.Exists("modprobe");
}

/// <summary>A fact that needs mkfs.xfs and xfs_db (no root): offline image building and inspection.</summary>
public sealed class XfsToolsFactAttribute : FactAttribute
{
    public XfsToolsFactAttribute()
    {
        if (!XfsTestEnvironment.HasXfsTools) Skip = "needs Linux with xfsprogs (mkfs.xfs, xfs_db)";
    }
}

/// <summary>A fact that needs root, loop devices, the kernel XFS driver and xfsprogs (mount -o loop).</summary>
public sealed class XfsRootFactAttribute : FactAttribute
{
    public XfsRootFactAttribute()
    {
        if (!XfsTestEnvironment.HasXfsTools || !ToolLocator.Exists("xfs_io")) Skip = "needs xfsprogs (mkfs.xfs, xfs_db, xfs_io)";
        else if (!XfsTestEnvironment.IsRoot) Skip = "needs root for mount -o loop";
        else if (!File.Exists("/dev/loop-control")) Skip = "needs loop devices";
        else if (!XfsTestEnvironment.KernelHasXfs) Skip = "needs the kernel XFS driver";
    }
}
