using MountChain.Fuse.Hosting;

namespace MountChain.Tests.Infrastructure;

/// <summary>
/// A fact that needs a real FUSE mount as root (loop devices, kernel mounts): skipped, with the
/// reason, when /dev/fuse, libfuse3, root or the named tools are missing.
/// </summary>
public sealed class RequiresFuseFactAttribute : FactAttribute
{
    public RequiresFuseFactAttribute(params string[] tools) => Skip = SkipReason(tools);

    /// <summary>Why a FUSE test cannot run here, or null when it can.</summary>
    internal static string? SkipReason(string[] tools)
    {
        if (!OperatingSystem.IsLinux()) return "FUSE tests run on Linux";
        if (Environment.UserName != "root" && !IsRoot()) return "needs root (mount, losetup)";
        if (!FuseMount.IsSupported) return "needs /dev/fuse and libfuse3.so.3 (apt-get install fuse3)";
        foreach (var tool in tools.Append("fusermount3"))
            if (!ToolLocator.Exists(tool)) return $"needs {tool}";
        return null;
    }

    private static bool IsRoot()
    {
        try { return File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:") && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0"); }
        catch (IOException) { return false; }
    }
}

/// <summary>The theory form of <see cref="RequiresFuseFactAttribute"/>.</summary>
public sealed class RequiresFuseTheoryAttribute : TheoryAttribute
{
    public RequiresFuseTheoryAttribute(params string[] tools) => Skip = RequiresFuseFactAttribute.SkipReason(tools);
}
