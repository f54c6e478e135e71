namespace MountChain.Tests.Infrastructure;

/// <summary>
/// A fact that needs external tools (and, with <see cref="NeedsRootAndFuse"/>, root and /dev/fuse
/// to mount with ntfs-3g). Skipped with a reason when they are missing; CI has them all.
/// </summary>
public sealed class FileSystemToolsFactAttribute : FactAttribute
{
    public FileSystemToolsFactAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !ToolLocator.Exists(t)).ToList();
        if (missing.Count > 0) Skip = "missing tools: " + string.Join(", ", missing);
    }

    /// <summary>Also require root and /dev/fuse (mounting ntfs-3g).</summary>
    public bool NeedsRootAndFuse
    {
        get => false;
        init
        {
            if (value && Skip == null && (Environment.UserName != "root" || !File.Exists("/dev/fuse")))
                Skip = "needs root and /dev/fuse";
        }
    }
}

/// <summary>The <see cref="FileSystemToolsFactAttribute"/> rules for a theory.</summary>
public sealed class FileSystemToolsTheoryAttribute : TheoryAttribute
{
    public FileSystemToolsTheoryAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !ToolLocator.Exists(t)).ToList();
        if (missing.Count > 0) Skip = "missing tools: " + string.Join(", ", missing);
    }

    public bool NeedsRootAndFuse
    {
        get => false;
        init
        {
            if (value && Skip == null && (Environment.UserName != "root" || !File.Exists("/dev/fuse")))
                Skip = "needs root and /dev/fuse";
        }
    }
}
