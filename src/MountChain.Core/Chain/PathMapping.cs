using MountChain.Core.Errors;

namespace MountChain.Core.Chain;

/// <summary>
/// A user's `--map-path FROM=TO`: parent hints that start with FROM (an ESXi
/// `/vmfs/volumes/&lt;uuid-or-name&gt;/…` folder, a Windows `C:\…` or UNC `\\server\share\…` folder)
/// are looked for under TO instead — format doc §1.7 step (1), tried before every other place.
/// </summary>
public sealed record PathMapping(string From, string To)
{
    /// <summary>Parses "FROM=TO" (the last '=' that is followed by a path splits; TO made absolute).</summary>
    public static PathMapping Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new ArgumentException($"--map-path '{text}': expected FROM=TO, e.g. /vmfs/volumes/datastore1/vm=./copied");
        return new PathMapping(Normalize(text[..eq]), Path.GetFullPath(text[(eq + 1)..]));
    }

    /// <summary>Where <paramref name="hint"/> lies under TO, or null when it does not start with FROM.</summary>
    public string? Apply(string hint)
    {
        string h = Normalize(hint);
        // Windows-origin paths compare case-insensitively (format doc §8.3); POSIX ones exactly.
        var comparison = IsWindowsStyle(From) ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (h.Equals(From, comparison)) return To;
        if (!h.StartsWith(From + "/", comparison)) return null;
        return Path.GetFullPath(Path.Combine(To, h[(From.Length + 1)..]));
    }

    /// <summary>'\' → '/', no trailing separator: hints and mappings compare in one form.</summary>
    public static string Normalize(string path)
    {
        string p = path.Trim().Replace('\\', '/');
        while (p.Length > 1 && p.EndsWith('/')) p = p[..^1];
        return p;
    }

    /// <summary>A drive-letter path (`C:/…`) or a UNC path (`//server/share/…`).</summary>
    public static bool IsWindowsStyle(string normalized) =>
        normalized.Length >= 2 && normalized[1] == ':' && char.IsAsciiLetter(normalized[0]) || normalized.StartsWith("//", StringComparison.Ordinal);
}
