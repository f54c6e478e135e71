using System.Text;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.Descriptor;

/// <summary>
/// Text rules shared by VMware's key = "value" files — VMDK descriptors (format doc §1.2) and
/// .vmx/.vmsd dictionaries (§8): the encoding named inside the file, pipe escapes, and how a bad
/// token is quoted back in a message.
/// </summary>
internal static class VmwareText
{
    /// <summary>
    /// Decodes <paramref name="bytes"/> with the code page named by the first of
    /// <paramref name="encodingKeys"/> found in its first <paramref name="scanBytes"/> bytes; UTF-8 by default.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> bytes, string file, int scanBytes, params string[] encodingKeys)
    {
        string? name = EncodingName(Encoding.Latin1.GetString(bytes[..Math.Min(bytes.Length, scanBytes)]), encodingKeys);
        if (name is null || name.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) || name.Equals("UTF8", StringComparison.OrdinalIgnoreCase))
            return new UTF8Encoding(false, false).GetString(bytes);
        try
        {
            Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
            return Encoding.GetEncoding(name).GetString(bytes);
        }
        catch (ArgumentException)
        {
            throw new UnsupportedFeatureException(file, $"encoding '{Shorten(name)}' is not supported");
        }
    }

    private static string? EncodingName(string latin, string[] keys)
    {
        foreach (var raw in latin.Split('\n'))
        {
            var line = raw.Trim();
            int eq = line.IndexOf('=');
            if (eq <= 0) continue;
            string key = line[..eq].Trim();
            foreach (var wanted in keys)
                if (key.Equals(wanted, StringComparison.OrdinalIgnoreCase))
                    return line[(eq + 1)..].Trim().Trim('"');
        }
        return null;
    }

    /// <summary>Pipe escapes: `|` + two hex digits is that byte (`|22` = '"', `|7C` = '|'), format doc §1.2 and §8.</summary>
    public static string UnescapePipes(string s)
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

    /// <summary>A token quoted back in a message, cut at 40 characters (hostile files have long lines).</summary>
    public static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
