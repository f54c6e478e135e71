namespace MountChain.Mounting.Trees;

/// <summary>Normalises front-end paths ("\\disk.raw", "/a//b/") into the tree form ("/disk.raw", "/a/b").</summary>
public static class TreePath
{
    public const string Root = "/";

    public static string Normalize(string? path)
    {
        if (string.IsNullOrEmpty(path)) return Root;
        var parts = path.Split(['/', '\\'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 0 ? Root : "/" + string.Join('/', parts);
    }

    /// <summary>The components of a normalised path ("/" has none).</summary>
    public static string[] Split(string normalizedPath) =>
        normalizedPath.Split('/', StringSplitOptions.RemoveEmptyEntries);

    public static string Combine(string directory, string name) =>
        directory == Root ? Root + name : directory + "/" + name;
}
