namespace MountChain.FileSystems.Operations;

/// <summary>A path inside a partition of a disk, written "pK:/path" (K as in <c>volumes</c>).</summary>
public readonly record struct VolumePath(int Partition, string Path)
{
    public static VolumePath Parse(string text)
    {
        int colon = text.IndexOf(':');
        string head = colon < 0 ? text : text[..colon];
        string rest = colon < 0 ? "/" : text[(colon + 1)..];
        if (head.Length < 2 || (head[0] != 'p' && head[0] != 'P') || !int.TryParse(head.AsSpan(1), System.Globalization.NumberStyles.None, null, out int k))
            throw new FormatException($"'{text}' is not a volume path; expected pK:/path (e.g. p1:/Windows)");
        if (!rest.StartsWith('/')) rest = "/" + rest;
        return new VolumePath(k, Normalize(rest));
    }

    /// <summary>Collapses repeated and trailing slashes; "." and ".." are left to the file system's lookup.</summary>
    private static string Normalize(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return "/" + string.Join('/', parts);
    }

    public override string ToString() => $"p{Partition}:{Path}";
}
