using System.Text;
using MountChain.Core.Errors;

namespace MountChain.Core.VmConfig;

/// <summary>
/// A VMware "dictionary" file (.vmx, .vmsd; format doc §8): one `key = "value"` per line, `#`
/// comments, `.encoding` naming the code page, values pipe-escaped (`|22` = '"', `|7C` = '|').
/// Keys compare case-insensitively (writers differ in casing); a repeated key keeps its last value.
/// </summary>
public sealed class VmwareDictionary
{
    /// <summary>Largest file we read: real .vmx/.vmsd files are a few KiB; 4 MiB bounds a hostile one.</summary>
    public const int MaxBytes = 4 * 1024 * 1024;

    private readonly Dictionary<string, string> _values;

    private VmwareDictionary(string path, Dictionary<string, string> values)
    {
        Path = path;
        _values = values;
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Values => _values;

    public string? this[string key] => _values.TryGetValue(key, out var v) ? v : null;

    public static VmwareDictionary Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new MissingParentException(path, "no such file");
        if (info.Length > MaxBytes)
            throw new CorruptMetadataException(path, $"file is {info.Length} bytes, more than the {MaxBytes}-byte limit for a VMware dictionary file");
        return Parse(File.ReadAllBytes(path), path);
    }

    public static VmwareDictionary Parse(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.IndexOf((byte)0) >= 0)
            throw new CorruptMetadataException(path, "contains NUL bytes: not a VMware dictionary (.vmx/.vmsd) text file");
        string text = Decode(bytes, path);
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int eq = line.IndexOf('=');
            if (eq <= 0)
                throw new CorruptMetadataException(path, $"line {lineNumber}: not a key = \"value\" line: '{Shorten(line)}'");
            string key = line[..eq].Trim();
            string value = line[(eq + 1)..].Trim();
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
                throw new CorruptMetadataException(path, $"line {lineNumber}: malformed key '{Shorten(key)}'");
            if (value.StartsWith('"'))
            {
                int close = value.IndexOf('"', 1);
                if (close < 0) throw new CorruptMetadataException(path, $"line {lineNumber}: unterminated quoted value for '{key}'");
                value = value[1..close];
            }
            values[key] = Unescape(value);
        }
        return new VmwareDictionary(path, values);
    }

    /// <summary>`.encoding` (first line by convention) names the code page; UTF-8 by default.</summary>
    private static string Decode(ReadOnlySpan<byte> bytes, string path)
    {
        string latin = Encoding.Latin1.GetString(bytes[..Math.Min(bytes.Length, 4096)]);
        string? name = null;
        foreach (var raw in latin.Split('\n'))
        {
            string line = raw.Trim();
            int eq = line.IndexOf('=');
            if (eq > 0 && line[..eq].Trim().Equals(".encoding", StringComparison.OrdinalIgnoreCase))
            {
                name = line[(eq + 1)..].Trim().Trim('"');
                break;
            }
        }
        if (name is null || name.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) || name.Equals("UTF8", StringComparison.OrdinalIgnoreCase))
            return new UTF8Encoding(false, false).GetString(bytes);
        try
        {
            Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
            return Encoding.GetEncoding(name).GetString(bytes);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException) // unknown name; UTF-7 is disabled in .NET
        {
            throw new UnsupportedFeatureException(path, $".encoding '{name}' is not supported");
        }
    }

    /// <summary>Pipe escapes: `|` + two hex digits is that byte (`|22` = '"', `|7C` = '|'), format doc §8.</summary>
    private static string Unescape(string s)
    {
        if (!s.Contains('|')) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '|' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                sb.Append((char)Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
