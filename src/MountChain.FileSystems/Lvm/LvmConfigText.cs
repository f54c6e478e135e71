using System.Globalization;
using System.Text;

namespace MountChain.FileSystems.Lvm;

/// <summary>
/// A section of LVM2's text metadata ("name { key = value ... }"): values are strings, integers,
/// arrays of those, or nested sections. Parsed by <see cref="LvmConfigText.Parse"/>.
/// </summary>
internal sealed class LvmSection
{
    public Dictionary<string, object> Values { get; } = new(StringComparer.Ordinal);
    public List<(string Name, LvmSection Section)> Sections { get; } = [];

    public LvmSection? Section(string name) => Sections.FirstOrDefault(s => s.Name == name).Section;
    public string? String(string key) => Values.GetValueOrDefault(key) as string;
    public long? Number(string key) => Values.GetValueOrDefault(key) as long?;
    public List<object> Array(string key) => Values.GetValueOrDefault(key) as List<object> ?? [];
}

/// <summary>
/// Parser of the LVM2 configuration syntax used by on-disk VG metadata (lvm2 lib/config): '#'
/// comments, quoted strings with backslash escapes, decimal integers, '[ ... ]' arrays and nested
/// '{ }' sections. Depth and size are bounded; malformed text throws <see cref="FormatException"/>.
/// </summary>
internal static class LvmConfigText
{
    private const int MaxDepth = 32;

    public static LvmSection Parse(string text)
    {
        int pos = 0;
        var root = new LvmSection();
        ParseBody(text, ref pos, root, 0, topLevel: true);
        return root;
    }

    private static void ParseBody(string t, ref int pos, LvmSection section, int depth, bool topLevel)
    {
        if (depth > MaxDepth) throw new FormatException("sections nested too deeply");
        while (true)
        {
            SkipSpace(t, ref pos);
            if (pos >= t.Length)
            {
                if (!topLevel) throw new FormatException("missing '}' at the end of the text");
                return;
            }
            if (t[pos] == '}')
            {
                if (topLevel) throw new FormatException($"unexpected '}}' at character {pos}");
                pos++;
                return;
            }
            if (t[pos] == '\0') { pos = t.Length; continue; }
            string key = Identifier(t, ref pos);
            SkipSpace(t, ref pos);
            if (pos < t.Length && t[pos] == '{')
            {
                pos++;
                var child = new LvmSection();
                ParseBody(t, ref pos, child, depth + 1, topLevel: false);
                section.Sections.Add((key, child));
            }
            else if (pos < t.Length && t[pos] == '=')
            {
                pos++;
                SkipSpace(t, ref pos);
                section.Values[key] = Value(t, ref pos, depth);
            }
            else throw new FormatException($"expected '=' or '{{' after '{key}' at character {pos}");
        }
    }

    private static object Value(string t, ref int pos, int depth)
    {
        if (pos >= t.Length) throw new FormatException("value missing at the end of the text");
        char c = t[pos];
        if (c == '"') return QuotedString(t, ref pos);
        if (c == '[')
        {
            pos++;
            var list = new List<object>();
            while (true)
            {
                SkipSpace(t, ref pos);
                if (pos >= t.Length) throw new FormatException("missing ']'");
                if (t[pos] == ']') { pos++; return list; }
                if (t[pos] == ',') { pos++; continue; }
                if (t[pos] == '[') throw new FormatException($"nested array at character {pos}");
                list.Add(Value(t, ref pos, depth + 1));
            }
        }
        int start = pos;
        if (c is '-' or '+') pos++;
        while (pos < t.Length && (char.IsAsciiDigit(t[pos]) || t[pos] == '.')) pos++;
        var number = t.AsSpan(start, pos - start);
        if (long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)) return n;
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return (long)d;
        throw new FormatException($"unexpected value at character {start}");
    }

    private static string QuotedString(string t, ref int pos)
    {
        var sb = new StringBuilder();
        pos++;
        while (true)
        {
            if (pos >= t.Length) throw new FormatException("unterminated string");
            char c = t[pos++];
            if (c == '"') return sb.ToString();
            if (c == '\\' && pos < t.Length) c = t[pos++];
            sb.Append(c);
        }
    }

    private static string Identifier(string t, ref int pos)
    {
        int start = pos;
        while (pos < t.Length && (char.IsAsciiLetterOrDigit(t[pos]) || t[pos] is '_' or '.' or '-' or '+')) pos++;
        if (pos == start) throw new FormatException($"unexpected character '{t[pos]}' at character {pos}");
        return t[start..pos];
    }

    private static void SkipSpace(string t, ref int pos)
    {
        while (pos < t.Length)
        {
            if (char.IsWhiteSpace(t[pos])) pos++;
            else if (t[pos] == '#') { while (pos < t.Length && t[pos] != '\n') pos++; }
            else return;
        }
    }
}
