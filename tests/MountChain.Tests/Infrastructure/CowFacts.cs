namespace MountChain.Tests.Infrastructure;

/// <summary>A fact that needs qemu-img and qemu-io on PATH (the COW tests use them as the oracle).</summary>
public sealed class CowToolsFactAttribute : FactAttribute
{
    public CowToolsFactAttribute()
    {
        if (!CowTools.Has("qemu-img") || !CowTools.Has("qemu-io")) Skip = "qemu-img / qemu-io not installed";
    }
}

/// <summary>A fact that also needs root (mounting a size-limited tmpfs).</summary>
public sealed class CowRootFactAttribute : FactAttribute
{
    public CowRootFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root") Skip = "needs root on Linux (mount)";
        else if (!CowTools.Has("qemu-img") || !CowTools.Has("mount")) Skip = "qemu-img / mount not installed";
    }
}

public static class CowTools
{
    public static bool Has(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));
}
