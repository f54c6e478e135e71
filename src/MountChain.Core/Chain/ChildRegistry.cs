using System.Text;
using MountChain.Core.Formats;

namespace MountChain.Core.Chain;

/// <summary>
/// The children mountchain created on a link, recorded in a small text file beside it
/// ("LINK.vmdk.mc-children", one absolute path a line). A child may live in any folder
/// (create-child base.vmdk work/fix.vmdk), where a scan of the parent's folder cannot see it;
/// unlink and commit read this file so they do not tear such a child (§1.6). The link itself is
/// never written (design.md rule 3). An entry is only trusted after the file it names is checked
/// to still name the link as parent, so stale lines are harmless.
/// </summary>
internal static class ChildRegistry
{
    /// <summary>Suffix of the registry file beside a link.</summary>
    public const string Suffix = ".mc-children";

    /// <summary>The registry file of <paramref name="linkPath"/>.</summary>
    public static string PathOf(string linkPath) => Path.GetFullPath(linkPath) + Suffix;

    /// <summary>
    /// Records <paramref name="childPath"/> as a child of <paramref name="parentPath"/>. Returns a
    /// warning instead of failing when the parent's folder cannot be written (then only a scan of
    /// the folders protects the child).
    /// </summary>
    public static string? Register(string parentPath, string childPath)
    {
        string registry = PathOf(parentPath);
        string child = Path.GetFullPath(childPath);
        try
        {
            var entries = Read(registry);
            if (entries.Contains(child, StringComparer.Ordinal)) return null;
            File.AppendAllText(registry, child + "\n", new UTF8Encoding(false));
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{registry}: could not record the new child {child} ({e.Message}); unlink/commit of the parent will only see children in its own folder";
        }
    }

    /// <summary>The files listed as children of <paramref name="linkPath"/> that exist (not checked further).</summary>
    public static IReadOnlyList<string> Listed(string linkPath) =>
        Read(PathOf(linkPath)).Where(File.Exists).ToList();

    /// <summary>Drops <paramref name="childPath"/> from the registry of <paramref name="parentPath"/>; deletes the registry when it is left empty.</summary>
    public static void Forget(string parentPath, string childPath)
    {
        string registry = PathOf(parentPath);
        if (!File.Exists(registry)) return;
        string child = PathInspection.Canonical(childPath);
        try
        {
            var left = Read(registry).Where(e => File.Exists(e) && PathInspection.Canonical(e) != child).ToList();
            if (left.Count == 0) File.Delete(registry);
            else File.WriteAllText(registry, string.Concat(left.Select(e => e + "\n")), new UTF8Encoding(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stale line is checked against the file before it is believed.
        }
    }

    /// <summary>Deletes the registry of a link that is itself being deleted.</summary>
    public static void Delete(string linkPath)
    {
        try { File.Delete(PathOf(linkPath)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static List<string> Read(string registry)
    {
        if (!File.Exists(registry)) return [];
        // Bounded: a registry is a few lines; a huge or binary file is not ours and is ignored.
        if (new FileInfo(registry).Length > 1 << 20) return [];
        return File.ReadAllLines(registry).Select(l => l.Trim()).Where(l => l.Length > 0 && Path.IsPathRooted(l)).ToList();
    }
}
