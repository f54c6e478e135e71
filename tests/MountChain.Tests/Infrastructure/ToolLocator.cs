namespace MountChain.Tests.Infrastructure;

/// <summary>
/// Finds external programs: PATH, then the sbin folders (mkfs.*, losetup, xfs_db live there and a
/// non-login root shell may not have them on PATH).
/// </summary>
public static class ToolLocator
{
    private static readonly string[] SbinFolders = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

    /// <summary>The full path of <paramref name="name"/>, or null when it is not installed.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(SbinFolders)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    public static bool Exists(string name) => Find(name) is not null;

    /// <summary>A bare name becomes its full path when found; a path (or an unknown name) is left as it is.</summary>
    public static string Resolve(string file) => file.Contains('/') ? file : Find(file) ?? file;
}
