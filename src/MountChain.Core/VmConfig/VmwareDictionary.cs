using MountChain.Core.Errors;
using MountChain.Core.Formats.Descriptor;

namespace MountChain.Core.VmConfig;

/// <summary>
/// A VMware "dictionary" file (.vmx, .vmsd; format doc §8): one `key = "value"` per line, `#`
/// comments, `.encoding` naming the code page, values pipe-escaped (`|22` = '"', `|7C` = '|').
/// Keys compare case-insensitively (writers differ in casing); a repeated key keeps its last value.
/// </summary>
internal sealed class VmwareDictionary
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
            string unescaped = Unescape(value);
            // A pipe escape (|00) can spell a NUL that the byte check above cannot see; no name or value holds one.
            if (unescaped.Contains('\0'))
                throw new CorruptMetadataException(path, $"line {lineNumber}: the value of '{key}' decodes to a NUL character");
            values[key] = unescaped;
        }
        return new VmwareDictionary(path, values);
    }

    /// <summary>`.encoding` (first line by convention) names the code page; UTF-8 by default.</summary>
    private static string Decode(ReadOnlySpan<byte> bytes, string path) => VmwareText.Decode(bytes, path, 4096, ".encoding");

    private static string Unescape(string s) => VmwareText.UnescapePipes(s);

    private static string Shorten(string s) => VmwareText.Shorten(s);
}
