using System.Text;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.Errors;

namespace MountChain.Core.Formats.HostedSparse;

/// <summary>
/// The descriptor region inside a hosted sparse file: <c>descriptorSize</c> sectors at
/// <c>descriptorOffset</c>, UTF-8 text padded with NULs (format doc §1.1, §2.1, §2.4). The one
/// place that finds, reads and rewrites it.
/// </summary>
internal static class EmbeddedDescriptor
{
    /// <summary>The parsed header when the file starts with "KDMV", else null (a text descriptor or another format).</summary>
    public static SparseExtentHeader? TryReadHeader(SafeFileHandle handle, string path)
    {
        Span<byte> head = stackalloc byte[SparseHeaderLayout.Size];
        if (RandomAccess.Read(handle, head, 0) < SparseHeaderLayout.Size || !SparseExtentHeader.HasMagic(head)) return null;
        return SparseExtentHeader.Parse(head, path);
    }

    /// <summary>
    /// The region's bytes, or null when the header names none (one extent of a split disk).
    /// A region that does not lie inside the file is refused, naming the file and the fields.
    /// </summary>
    public static byte[]? ReadRegion(SafeFileHandle handle, SparseExtentHeader header, string path)
    {
        if (!HasRegion(handle, header, path)) return null;
        var region = new byte[header.DescriptorSize * Sector.Size];
        FileOpening.ReadExactly(handle, region, (long)header.DescriptorOffset * Sector.Size, path);
        return region;
    }

    /// <summary>Bytes of the region read first when only its text is wanted: a descriptor is rarely longer.</summary>
    private const int TextProbeBytes = 4096;

    /// <summary>
    /// The descriptor text's bytes (up to the region's first NUL), or null when the file holds no
    /// descriptor: no region named in the header, or one left blank (qemu reserves an all-NUL
    /// region in every extent of a split twoGbMaxExtentSparse disk; the descriptor lives in the
    /// separate .vmdk, §1.1). Reads the region's first 4 KiB, and the rest only when the text
    /// goes on: a deep chain opens one descriptor per link.
    /// </summary>
    public static byte[]? ReadDescriptorRegion(SafeFileHandle handle, SparseExtentHeader header, string path)
    {
        if (!HasRegion(handle, header, path)) return null;
        long offset = (long)header.DescriptorOffset * Sector.Size;
        int size = checked((int)(header.DescriptorSize * Sector.Size));
        Span<byte> probe = stackalloc byte[Math.Min(size, TextProbeBytes)];
        FileOpening.ReadExactly(handle, probe, offset, path);
        byte[] text;
        if (probe.IndexOf((byte)0) is var nul and >= 0)
            text = probe[..nul].ToArray();
        else
        {
            var region = new byte[size];
            probe.CopyTo(region);
            FileOpening.ReadExactly(handle, region.AsSpan(probe.Length), offset + probe.Length, path);
            int end = Array.IndexOf(region, (byte)0);
            text = end < 0 ? region : region[..end];
        }
        return text.AsSpan().IndexOfAnyExcept(" \t\r\n\v\f"u8) < 0 ? null : text;
    }

    /// <summary>False when the header names no region; a region that does not lie inside the file is refused.</summary>
    private static bool HasRegion(SafeFileHandle handle, SparseExtentHeader header, string path)
    {
        if (header.DescriptorOffset == 0) return false;
        ulong length = (ulong)RandomAccess.GetLength(handle);
        // Unsigned arithmetic: a 64-bit field read as a huge value must not wrap to a negative offset.
        // descriptorSize is bounded by the header parser, so the sum cannot overflow here.
        if (header.DescriptorOffset > length / Sector.Size || (header.DescriptorOffset + header.DescriptorSize) * Sector.Size > length)
            throw new CorruptMetadataException(path, $"embedded descriptor (descriptorOffset {header.DescriptorOffset}, descriptorSize {header.DescriptorSize} sectors) lies past the end of the file");
        return true;
    }

    /// <summary>The text of a region: UTF-8 up to the first NUL.</summary>
    public static string TextOf(byte[] region)
    {
        int nul = Array.IndexOf(region, (byte)0);
        return Encoding.UTF8.GetString(region, 0, nul < 0 ? region.Length : nul);
    }

    /// <summary>The region holding <paramref name="text"/>, NUL-padded to the header's size; null when the text does not fit.</summary>
    public static byte[]? TryEncode(string text, SparseExtentHeader header)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var region = new byte[header.DescriptorSize * Sector.Size];
        if (bytes.Length > region.Length) return null;
        bytes.CopyTo(region, 0);
        return region;
    }

    /// <summary>Writes a region made by <see cref="TryEncode"/> in place (the caller orders barriers).</summary>
    public static void Write(WritableFile file, SparseExtentHeader header, byte[] region) =>
        file.Write(region, (long)header.DescriptorOffset * Sector.Size);
}
