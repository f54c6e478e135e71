using System.Globalization;
using System.Text;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.Descriptor;

/// <summary>
/// Parses descriptor text (format doc §1.2): LF or CRLF, case-insensitive keys, quoted values,
/// quoted file names with spaces, <c>encoding</c>, a size cap, duplicate keys refused.
/// </summary>
internal static class DescriptorParser
{
    /// <summary>Largest descriptor we read (§1.2 "Size caps": qemu reads up to 1 MiB; real ones are ~1 KiB).</summary>
    public const int MaxDescriptorBytes = 64 * 1024;

    /// <summary>Longest file name in an extent line or hint (qemu scans at most 511 characters).</summary>
    private const int MaxFileNameLength = 4096;

    private static readonly Dictionary<string, ExtentType> ExtentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["FLAT"] = ExtentType.Flat, ["SPARSE"] = ExtentType.Sparse, ["ZERO"] = ExtentType.Zero,
        ["VMFS"] = ExtentType.Vmfs, ["VMFSSPARSE"] = ExtentType.VmfsSparse, ["VMFSRDM"] = ExtentType.VmfsRdm,
        ["VMFSRAW"] = ExtentType.VmfsRaw, ["SESPARSE"] = ExtentType.SeSparse, ["VSANSPARSE"] = ExtentType.VsanSparse,
    };

    private static readonly Dictionary<string, ExtentAccess> Accesses = new(StringComparer.OrdinalIgnoreCase)
    {
        ["RW"] = ExtentAccess.ReadWrite, ["RDONLY"] = ExtentAccess.ReadOnly, ["NOACCESS"] = ExtentAccess.NoAccess,
    };

    /// <summary>Parses descriptor bytes (NUL-padded embedded text is cut at the first NUL).</summary>
    public static VmdkDescriptor Parse(ReadOnlySpan<byte> bytes, string file)
    {
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0) bytes = bytes[..nul];
        if (bytes.Length > MaxDescriptorBytes)
            throw new DescriptorException(file, $"descriptor is {bytes.Length} bytes, more than the {MaxDescriptorBytes}-byte limit");
        foreach (byte b in bytes)
            if (b < 0x20 && b is not ((byte)'\t' or (byte)'\r' or (byte)'\n'))
                throw new DescriptorException(file, $"descriptor contains binary byte 0x{b:x2}; not a text descriptor");

        string text = Decode(bytes, file);
        var header = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var ddb = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var extents = new List<DescriptorExtent>();

        int lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            string line = rawLine.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#') continue;

            if (TryParseExtent(line, file, lineNumber, out var extent))
            {
                extents.Add(extent!);
                continue;
            }
            int eq = line.IndexOf('=');
            if (eq <= 0)
                throw new DescriptorException(file, $"line {lineNumber}: not a key=value or extent line: '{Shorten(line)}'");
            string key = line[..eq].Trim();
            string value = Unquote(line[(eq + 1)..].Trim(), file, lineNumber);
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
                throw new DescriptorException(file, $"line {lineNumber}: malformed key '{Shorten(key)}'");
            var target = key.StartsWith("ddb.", StringComparison.OrdinalIgnoreCase) ? ddb : header;
            if (!target.TryAdd(key, value))
                throw new DescriptorException(file, $"line {lineNumber}: duplicate key '{key}'");
        }

        int version = ParseInt(Require(header, "version", file), "version", file);
        uint cid = ParseCid(Require(header, "CID", file), "CID", file);
        uint parentCid = header.TryGetValue("parentCID", out var p) ? ParseCid(p, "parentCID", file) : VmdkDescriptor.NoParentCid;
        string createType = Require(header, "createType", file);
        header.TryGetValue("parentFileNameHint", out var hint);
        if (parentCid != VmdkDescriptor.NoParentCid && string.IsNullOrEmpty(hint))
            throw new DescriptorException(file, $"parentCID is {parentCid:x8} but parentFileNameHint is missing");
        if (extents.Count == 0)
            throw new DescriptorException(file, "descriptor has no extent lines");
        header.TryGetValue("encoding", out var encoding);

        return new VmdkDescriptor
        {
            Version = version,
            Cid = cid,
            ParentCid = parentCid,
            CreateType = createType,
            ParentFileNameHint = string.IsNullOrEmpty(hint) ? null : hint,
            Encoding = encoding ?? "UTF-8",
            Extents = extents,
            Header = header,
            Ddb = ddb,
        };
    }

    /// <summary>Decodes with the descriptor's own <c>encoding</c> key (§1.2), UTF-8 by default.</summary>
    private static string Decode(ReadOnlySpan<byte> bytes, string file) =>
        VmwareText.Decode(bytes, file, bytes.Length, "encoding", "ddb.encoding");

    /// <summary>Extent line: access sectors type ["file" [offset [partUUID deviceId]]] (§1.2).</summary>
    private static bool TryParseExtent(string line, string file, int lineNumber, out DescriptorExtent? extent)
    {
        extent = null;
        int sp = line.IndexOfAny([' ', '\t']);
        if (sp <= 0 || !Accesses.TryGetValue(line[..sp], out var access)) return false;
        if (line.Contains('=') && !line.Contains('"')) return false;

        string rest = line[sp..].TrimStart();
        int sp2 = rest.IndexOfAny([' ', '\t']);
        string sectorsText = sp2 < 0 ? rest : rest[..sp2];
        if (!long.TryParse(sectorsText, NumberStyles.None, CultureInfo.InvariantCulture, out long sectors) || sectors <= 0 || sectors > (1L << 42))
            throw new DescriptorException(file, $"line {lineNumber}: extent size '{Shorten(sectorsText)}' is not a valid sector count");
        if (sp2 < 0)
            throw new DescriptorException(file, $"line {lineNumber}: extent line has no type");
        rest = rest[sp2..].TrimStart();
        int sp3 = rest.IndexOfAny([' ', '\t']);
        string typeText = sp3 < 0 ? rest : rest[..sp3];
        if (!ExtentTypes.TryGetValue(typeText, out var type))
            throw new UnsupportedFeatureException(file, $"line {lineNumber}: unknown extent type '{Shorten(typeText)}'");
        rest = sp3 < 0 ? "" : rest[sp3..].TrimStart();

        string? fileName = null;
        long offset = 0;
        if (rest.Length > 0)
        {
            if (rest[0] != '"')
                throw new DescriptorException(file, $"line {lineNumber}: extent file name must be quoted");
            int close = rest.IndexOf('"', 1);
            if (close < 0)
                throw new DescriptorException(file, $"line {lineNumber}: unterminated quoted file name");
            fileName = UnescapePipes(rest[1..close]);
            if (fileName.Length == 0 || fileName.Length > MaxFileNameLength)
                throw new DescriptorException(file, $"line {lineNumber}: extent file name is empty or too long");
            var tokens = rest[(close + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length > 0)
            {
                if (!long.TryParse(tokens[0], NumberStyles.None, CultureInfo.InvariantCulture, out offset) || offset > (1L << 42))
                    throw new DescriptorException(file, $"line {lineNumber}: extent offset '{Shorten(tokens[0])}' is not a sector number");
            }
        }
        if (fileName is null && type != ExtentType.Zero)
            throw new DescriptorException(file, $"line {lineNumber}: {typeText} extent needs a file name");
        extent = new DescriptorExtent(access, sectors, type, fileName, offset);
        return true;
    }

    private static string Unquote(string value, string file, int lineNumber)
    {
        if (value.Length > 0 && value[0] == '"')
        {
            int close = value.IndexOf('"', 1);
            if (close < 0) throw new DescriptorException(file, $"line {lineNumber}: unterminated quoted value");
            if (value[(close + 1)..].Trim().Length > 0)
                throw new DescriptorException(file, $"line {lineNumber}: text after a quoted value");
            return UnescapePipes(value[1..close]);
        }
        return value;
    }

    private static string UnescapePipes(string s) => VmwareText.UnescapePipes(s);

    private static string Require(Dictionary<string, string> header, string key, string file) =>
        header.TryGetValue(key, out var v) ? v : throw new DescriptorException(file, $"descriptor has no '{key}' key");

    private static int ParseInt(string text, string key, string file) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v)
            ? v : throw new DescriptorException(file, $"{key} '{Shorten(text)}' is not a number");

    private static uint ParseCid(string text, string key, string file) =>
        text.Length is > 0 and <= 8 && uint.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint v)
            ? v : throw new DescriptorException(file, $"{key} '{Shorten(text)}' is not 8 hex digits");

    private static string Shorten(string s) => VmwareText.Shorten(s);
}
