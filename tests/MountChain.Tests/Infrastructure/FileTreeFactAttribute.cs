namespace MountChain.Tests.Infrastructure;

/// <summary>
/// A fact of the --files tree tests: needs root, FUSE (<see cref="RequiresFuseFactAttribute"/>), loop
/// devices and the tools that build the NTFS/XFS/VMDK fixture. Skipped with the reason otherwise.
/// </summary>
public sealed class FileTreeFactAttribute : FactAttribute
{
    private static readonly string[] Tools = ["mkntfs", "ntfs-3g", "setfattr", "mkfs.xfs", "sfdisk", "qemu-img", "qemu-io", "mkfifo", "umount"];

    public FileTreeFactAttribute()
    {
        var fuse = new RequiresFuseFactAttribute();
        if (fuse.Skip != null) { Skip = fuse.Skip; return; }
        if (!File.Exists("/dev/loop-control")) { Skip = "needs loop devices (mount -o loop)"; return; }
        var missing = Tools.Where(t => !ToolLocator.Exists(t)).ToList();
        if (missing.Count > 0) Skip = "missing tools: " + string.Join(", ", missing);
    }
}
