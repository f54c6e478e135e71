using MountChain.Fuse.Hosting;

namespace MountChain.Tests.Infrastructure;

/// <summary>
/// A fact that needs a real FUSE mount as root (loop devices, kernel mounts): skipped, with the
/// reason, when /dev/fuse, libfuse3, root or the named tools are missing.
/// </summary>
public sealed class RequiresFuseFactAttribute : FactAttribute
{
    public RequiresFuseFactAttribute(params string[] tools)
    {
        if (!OperatingSystem.IsLinux()) { Skip = "FUSE tests run on Linux"; return; }
        if (Environment.UserName != "root" && !IsRoot()) { Skip = "needs root (mount, losetup)"; return; }
        if (!FuseMount.IsSupported) { Skip = "needs /dev/fuse and libfuse3.so.3 (apt-get install fuse3)"; return; }
        foreach (var tool in tools.Append("fusermount3"))
            if (!ToolLocator.Exists(tool)) { Skip = $"needs {tool}"; return; }
    }

    private static bool IsRoot()
    {
        try { return File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:") && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0"); }
        catch (IOException) { return false; }
    }
}
