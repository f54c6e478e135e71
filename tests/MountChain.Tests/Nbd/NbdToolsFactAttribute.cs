namespace MountChain.Tests.Nbd;

/// <summary>A fact that needs the real NBD clients (qemu-img, qemu-io, nbdinfo, nbdcopy); skipped, with the reason, when one is missing.</summary>
public sealed class NbdToolsFactAttribute : FactAttribute
{
    public static readonly string[] Tools = ["qemu-img", "qemu-io", "nbdinfo", "nbdcopy"];

    public NbdToolsFactAttribute()
    {
        var missing = Tools.Where(t => ToolLocator.Find(t) == null).ToList();
        if (missing.Count > 0) Skip = $"needs {string.Join(", ", missing)} (apt: qemu-utils, libnbd-bin)";
    }
}
