namespace MountChain.FileSystems.Fat;

/// <summary>
/// 8.3 names of FAT directory entries: OEM code page 437 (Linux vfat's default codepage), the
/// 0x05 escape of a leading 0xE5, the NT lowercase flags, and the checksum long names carry.
/// </summary>
internal static class ShortNames
{
    /// <summary>Code page 437, bytes 0x80–0xFF.</summary>
    private const string Cp437High =
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐" +
        "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00A0";

    /// <summary>NT case flags in byte 12 of a short entry.</summary>
    public const byte LowercaseBase = 0x08, LowercaseExtension = 0x10;

    public static string Decode(ReadOnlySpan<byte> raw)
    {
        Span<char> chars = stackalloc char[raw.Length];
        for (int i = 0; i < raw.Length; i++) chars[i] = raw[i] < 0x80 ? (char)raw[i] : Cp437High[raw[i] - 0x80];
        return new string(chars);
    }

    /// <summary>The name an 11-byte short name shows: "BASE.EXT", lowercased per the NT flags, spaces trimmed.</summary>
    public static string Display(ReadOnlySpan<byte> name11, byte caseFlags)
    {
        Span<byte> raw = stackalloc byte[11];
        name11[..11].CopyTo(raw);
        if (raw[0] == 0x05) raw[0] = 0xE5; // a real leading 0xE5 is stored as 0x05 (0xE5 marks deleted entries)
        string baseName = Decode(raw[..8]).TrimEnd(' ');
        string extension = Decode(raw[8..11]).TrimEnd(' ');
        if ((caseFlags & LowercaseBase) != 0) baseName = baseName.ToLowerInvariant();
        if ((caseFlags & LowercaseExtension) != 0) extension = extension.ToLowerInvariant();
        return extension.Length == 0 ? baseName : baseName + "." + extension;
    }

    /// <summary>The checksum of the 11 name bytes that each long-name entry of the set repeats.</summary>
    public static byte Checksum(ReadOnlySpan<byte> name11)
    {
        byte sum = 0;
        for (int i = 0; i < 11; i++) sum = (byte)(((sum & 1) << 7) + (sum >> 1) + name11[i]);
        return sum;
    }
}
