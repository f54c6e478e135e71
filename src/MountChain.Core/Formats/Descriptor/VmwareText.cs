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
        string? name = EncodingName(bytes[..Math.Min(bytes.Length, scanBytes)], encodingKeys);
        if (name is null || name.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) || name.Equals("UTF8", StringComparison.OrdinalIgnoreCase))
            return new UTF8Encoding(false, false).GetString(bytes);
        try
        {
            Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
            return Encoding.GetEncoding(name).GetString(bytes);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException) // unknown name; UTF-7 is disabled in .NET
        {
            throw new UnsupportedFeatureException(file, $"encoding '{Shorten(name)}' is not supported");
        }
    }

    /// <summary>What string.Trim removes, as the Latin-1 bytes that can hold it.</summary>
    private static ReadOnlySpan<byte> Blanks => [0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0xA0];

    /// <summary>The value of the first line whose key is one of <paramref name="keys"/>, read as Latin-1; scanned in place (one descriptor per link).</summary>
    private static string? EncodingName(ReadOnlySpan<byte> text, string[] keys)
    {
        while (true)
        {
            int newline = text.IndexOf((byte)'\n');
            var line = (newline < 0 ? text : text[..newline]).Trim(Blanks);
            int eq = line.IndexOf((byte)'=');
            if (eq > 0)
            {
                var key = line[..eq].Trim(Blanks);
                foreach (var wanted in keys)
                    if (Ascii.EqualsIgnoreCase(key, wanted))
                        return Encoding.Latin1.GetString(line[(eq + 1)..].Trim(Blanks)).Trim('"');
            }
            if (newline < 0) return null;
            text = text[(newline + 1)..];
        }
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
