namespace MountChain.FileSystems.Operations;

/// <summary>
/// A path inside a volume of a disk, written "pK:/path" or, for an LVM2 logical volume,
/// "pK/VG-LV:/path" (names as in <c>volumes</c>).
/// </summary>
public readonly record struct VolumePath(string Volume, string Path)
{
    /// <summary>The partition number K of the volume.</summary>
    public int Partition => int.Parse(Volume.AsSpan(1, (Volume.IndexOf('/') is var s and >= 0 ? s : Volume.Length) - 1), System.Globalization.CultureInfo.InvariantCulture);

    public static VolumePath Parse(string text)
    {
        int colon = text.IndexOf(':');
        string head = colon < 0 ? text : text[..colon];
        string rest = colon < 0 ? "/" : text[(colon + 1)..];
        if (!IsVolumeName(head))
            throw new FormatException($"'{text}' is not a volume path; expected pK:/path or pK/VG-LV:/path (e.g. p1:/Windows, p3/vg0-root:/etc)");
        if (!rest.StartsWith('/')) rest = "/" + rest;
        return new VolumePath(DiskVolumes.Normalize(head), Normalize(rest));
    }

    /// <summary>"pK", "K", "pK/VG-LV" or "K/VG-LV".</summary>
    public static bool IsVolumeName(string text)
    {
        string n = DiskVolumes.Normalize(text);
        int slash = n.IndexOf('/');
        var number = n.AsSpan(1, (slash < 0 ? n.Length : slash) - 1);
        return n.Length >= 2 && n[0] == 'p' && number.Length > 0 && int.TryParse(number, System.Globalization.NumberStyles.None, null, out _)
            && (slash < 0 || (slash < n.Length - 1 && n.IndexOf('/', slash + 1) < 0));
    }

    /// <summary>Collapses repeated and trailing slashes; "." and ".." are left to the file system's lookup.</summary>
    private static string Normalize(string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return "/" + string.Join('/', parts);
    }

    public override string ToString() => $"{Volume}:{Path}";
}
