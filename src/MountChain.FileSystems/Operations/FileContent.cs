using System.Buffers;
using System.Security.Cryptography;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>Streams a file's content out of an <see cref="IFileSystem"/>.</summary>
public static class FileContent
{
    public const int BufferSize = 1 << 20;

    /// <summary>Calls <paramref name="sink"/> with consecutive chunks from offset 0 to the end.</summary>
    public static long Stream(IFileSystem fs, FsEntry entry, Action<ReadOnlySpan<byte>> sink)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long offset = 0;
            while (true)
            {
                int n = fs.Read(entry, buffer.AsSpan(0, BufferSize), offset);
                if (n <= 0) break;
                sink(buffer.AsSpan(0, n));
                offset += n;
            }
            if (offset != entry.Size)
                throw new FileSystemCorruptException($"{entry.Path}: read {offset} bytes but the file is {entry.Size} bytes");
            return offset;
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    public static byte[] Sha256(IFileSystem fs, FsEntry entry)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Stream(fs, entry, chunk => hash.AppendData(chunk));
        return hash.GetHashAndReset();
    }
}
