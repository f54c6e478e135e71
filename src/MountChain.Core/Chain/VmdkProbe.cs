using System.Text;

namespace MountChain.Core.Chain;

/// <summary>Recognises VMDK files by content (format doc §1.1 "Recognition").</summary>
internal static class VmdkProbe
{
    /// <summary>True for a KDMV/COWD/SESparse binary or a text descriptor whose first statement is version=N or a VMDK comment.</summary>
    public static bool LooksLikeVmdk(string path)
    {
        Span<byte> head = stackalloc byte[1024];
        int n;
        using (var h = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            n = RandomAccess.Read(h, head, 0);
        return LooksLikeVmdk(head[..n]);
    }

    public static bool LooksLikeVmdk(ReadOnlySpan<byte> head)
    {
        if (head.Length >= 4 && (head[..4].SequenceEqual("KDMV"u8) || head[..4].SequenceEqual("COWD"u8) || head[..4].SequenceEqual("kdmv"u8)))
            return true;
        if (head.Length >= 8 && head[..8].SequenceEqual(new byte[] { 0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0 }))
            return true;
        // A text descriptor: first non-blank, non-comment line is "version=N" or "# Disk DescriptorFile".
        string text = Encoding.Latin1.GetString(head);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith("# Disk DescriptorFile", StringComparison.OrdinalIgnoreCase)) return true;
            if (line.StartsWith('#')) continue;
            return line.Replace(" ", "").StartsWith("version=", StringComparison.OrdinalIgnoreCase);
        }
        return false;
    }
}
