using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>
/// LZNT1 decompression (MS-XCA §2.5): a sequence of chunks, each a 16-bit header (bit 15 =
/// compressed, bits 0–11 = data size − 1) followed by raw bytes or flag-byte groups of literals
/// and back-references whose length/offset split depends on the position in the 4 KiB chunk.
/// </summary>
internal static class Lznt1
{
    public const int ChunkSize = 4096;

    /// <summary>Decompresses into <paramref name="output"/> (assumed zero-filled); returns bytes produced.</summary>
    public static int Decompress(ReadOnlySpan<byte> input, Span<byte> output, string what)
    {
        int sp = 0, dp = 0;
        while (sp + 2 <= input.Length && dp < output.Length)
        {
            ushort header = BinaryPrimitives.ReadUInt16LittleEndian(input[sp..]);
            sp += 2;
            if (header == 0) break;
            int size = (header & 0x0FFF) + 1;
            if (size > input.Length - sp)
                throw new FileSystemCorruptException($"{what}: LZNT1 chunk of {size} bytes runs past the compressed data");
            var chunk = input.Slice(sp, size);
            sp += size;
            int chunkEnd = Math.Min(dp + ChunkSize, output.Length);
            if ((header & 0x8000) == 0)
            {
                int n = Math.Min(size, chunkEnd - dp);
                chunk[..n].CopyTo(output[dp..]);
                dp += n;
                continue;
            }
            DecompressChunk(chunk, output, dp, chunkEnd, what);
            // A short chunk is zero-padded to the full chunk (the output is pre-zeroed).
            dp = chunkEnd;
        }
        return dp;
    }

    private static void DecompressChunk(ReadOnlySpan<byte> chunk, Span<byte> output, int start, int end, string what)
    {
        int cp = 0, dp = start;
        while (cp < chunk.Length)
        {
            byte flags = chunk[cp++];
            for (int bit = 0; bit < 8 && cp < chunk.Length; bit++)
            {
                if ((flags & (1 << bit)) == 0)
                {
                    if (dp >= end) throw new FileSystemCorruptException($"{what}: LZNT1 literal overflows its chunk");
                    output[dp++] = chunk[cp++];
                    continue;
                }
                if (cp + 2 > chunk.Length) throw new FileSystemCorruptException($"{what}: LZNT1 back-reference truncated");
                ushort token = BinaryPrimitives.ReadUInt16LittleEndian(chunk[cp..]);
                cp += 2;
                int pos = dp - start;
                if (pos == 0) throw new FileSystemCorruptException($"{what}: LZNT1 back-reference at the start of a chunk");
                int lengthMask = 0x0FFF, shift = 12;
                for (int i = pos - 1; i >= 0x10; i >>= 1) { lengthMask >>= 1; shift--; }
                int distance = (token >> shift) + 1;
                int length = (token & lengthMask) + 3;
                if (distance > pos || length > end - dp)
                    throw new FileSystemCorruptException($"{what}: LZNT1 back-reference ({distance}, {length}) leaves its chunk");
                for (int i = 0; i < length; i++, dp++) output[dp] = output[dp - distance];
            }
        }
    }
}
