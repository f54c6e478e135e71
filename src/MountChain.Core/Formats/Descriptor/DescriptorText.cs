using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MountChain.Core.Formats.Descriptor;

/// <summary>
/// Writes descriptor text (format doc §1.2): a fresh one for a new redo log, and in-place edits of
/// single keys (CID, ddb.longContentID) that keep every other line as its author wrote it.
/// </summary>
internal static class DescriptorText
{
    /// <summary>The descriptor of a new monolithicSparse child (format doc §2.8).</summary>
    public static string ForRedoLog(uint cid, uint parentCid, string parentHint, long sectors, string fileName, IEnumerable<KeyValuePair<string, string>> ddb)
    {
        var sb = new StringBuilder();
        sb.Append("# Disk DescriptorFile\n");
        sb.Append("version=1\n");
        sb.Append("encoding=\"UTF-8\"\n");
        sb.Append(CultureInfo.InvariantCulture, $"CID={cid:x8}\n");
        sb.Append(CultureInfo.InvariantCulture, $"parentCID={parentCid:x8}\n");
        sb.Append("createType=\"monolithicSparse\"\n");
        sb.Append(CultureInfo.InvariantCulture, $"parentFileNameHint=\"{Escape(parentHint)}\"\n");
        sb.Append("\n# Extent description\n");
        sb.Append(CultureInfo.InvariantCulture, $"RW {sectors} SPARSE \"{Escape(fileName)}\"\n");
        sb.Append("\n# The Disk Data Base\n#DDB\n\n");
        foreach (var (key, value) in ddb)
        {
            if (key.Equals(LongContentIdKey, StringComparison.OrdinalIgnoreCase)) continue;
            sb.Append(CultureInfo.InvariantCulture, $"{key} = \"{Escape(value)}\"\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"{LongContentIdKey} = \"{LongContentId(cid)}\"\n");
        return sb.ToString();
    }

    public const string LongContentIdKey = "ddb.longContentID";

    /// <summary>VMware dictionary escaping of '"' and '|' (the parser's |XX rule).</summary>
    private static string Escape(string s) => s.Replace("|", "|7C").Replace("\"", "|22");

    /// <summary>A random CID that is not a reserved value (ffffffff, fffffffe) nor one of <paramref name="avoid"/> (§1.6).</summary>
    public static uint NewCid(params uint[] avoid)
    {
        while (true)
        {
            uint c = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
            if (c < 0xFFFFFFFE && c != 0 && !avoid.Contains(c)) return c;
        }
    }

    /// <summary>32 hex digits whose last 8 are the CID (format doc §1.5).</summary>
    public static string LongContentId(uint cid) =>
        Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)) + cid.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>Replaces the value of <paramref name="key"/> (first occurrence), or appends "key = value" when absent and <paramref name="appendIfMissing"/>.</summary>
    public static string SetValue(string text, string key, string value, bool quoted, bool appendIfMissing)
    {
        string newline = text.Contains("\r\n") ? "\r\n" : "\n";
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            int eq = line.IndexOf('=');
            if (eq <= 0 || line.TrimStart().StartsWith('#')) continue;
            if (!line[..eq].Trim().Equals(key, StringComparison.OrdinalIgnoreCase)) continue;
            string spacing = line[..eq].EndsWith(' ') ? " = " : "=";
            lines[i] = line[..eq].TrimEnd() + spacing + (quoted ? $"\"{Escape(value)}\"" : value) + (lines[i].EndsWith('\r') ? "\r" : "");
            return string.Join('\n', lines);
        }
        if (!appendIfMissing) throw new InvalidOperationException($"descriptor has no '{key}' key");
        string body = text.TrimEnd('\0');
        if (!body.EndsWith('\n')) body += newline;
        return body + $"{key} = " + (quoted ? $"\"{Escape(value)}\"" : value) + newline;
    }

    /// <summary>The text with a new CID, and a matching longContentID when the DDB has one (or <paramref name="addLongContentId"/>).</summary>
    public static string WithCid(string text, uint cid, bool addLongContentId)
    {
        text = SetValue(text, "CID", cid.ToString("x8", CultureInfo.InvariantCulture), quoted: false, appendIfMissing: false);
        bool has = text.Split('\n').Any(l => l.TrimStart().StartsWith(LongContentIdKey, StringComparison.OrdinalIgnoreCase));
        if (has || addLongContentId)
            text = SetValue(text, LongContentIdKey, LongContentId(cid), quoted: true, appendIfMissing: true);
        return text;
    }
}
