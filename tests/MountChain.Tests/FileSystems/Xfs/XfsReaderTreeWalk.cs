using System.Security.Cryptography;
using MountChain.FileSystems.Common;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>Helpers that walk and hash a file system through the IFileSystem contract only.</summary>
internal static class XfsReaderTreeWalk
{
    public static Dictionary<string, FsEntry> WalkAll(IFileSystem fs)
    {
        var result = new Dictionary<string, FsEntry>(StringComparer.Ordinal);
        var pending = new Stack<FsEntry>();
        pending.Push(fs.Root);
        while (pending.Count > 0)
        {
            foreach (var child in fs.List(pending.Pop()))
            {
                Assert.True(result.TryAdd(child.Path, child), $"{child.Path} listed twice");
                if (child.Type == FsEntryType.Directory) pending.Push(child);
            }
        }
        return result;
    }

    public static string Sha256(IFileSystem fs, FsEntry file, int chunk = 1 << 20)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[chunk];
        long offset = 0;
        while (true)
        {
            int n = fs.Read(file, buffer, offset);
            if (n == 0) break;
            sha.AppendData(buffer, 0, n);
            offset += n;
        }
        Assert.Equal(file.Size, offset);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
