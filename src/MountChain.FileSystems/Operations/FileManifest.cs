using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>One regular file of a manifest: "./path", size and SHA-256.</summary>
internal sealed record ManifestEntry(string Path, long Size, string Sha256);

/// <summary>
/// The hash of every regular file under a directory, in the order and format of
/// <c>find . -type f | LC_ALL=C sort | xargs sha256sum</c>: lines "&lt;sha256&gt;  ./path", sorted by
/// the ordinal bytes of the UTF-8 path. Alternate data streams, symlinks and special files are
/// not regular files and are left out (as on an ntfs-3g mount).
/// </summary>
internal static class FileManifest
{
    public static List<ManifestEntry> Build(IFileSystem fs, FsEntry root, int parallelism = 0)
    {
        var files = TreeWalker.Walk(fs, root, recursive: true)
            .Where(e => e.Type == FsEntryType.File && e.StreamName == null)
            .ToList();
        var result = new ManifestEntry[files.Count];
        string prefix = root.Path == "/" ? "/" : root.Path + "/";
        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount };
        Parallel.For(0, files.Count, options, i =>
        {
            var f = files[i];
            string relative = "./" + f.Path[prefix.Length..];
            result[i] = new ManifestEntry(relative, f.Size, Convert.ToHexStringLower(FileContent.Sha256(fs, f)));
        });
        var list = result.ToList();
        list.Sort((a, b) => CompareUtf8(a.Path, b.Path));
        return list;
    }

    /// <summary>Byte order of the UTF-8 encodings (what LC_ALL=C sort does), not UTF-16 code-unit order.</summary>
    public static int CompareUtf8(string a, string b) =>
        Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    /// <summary>A sha256sum line; like coreutils, a name with '\\' or a newline is escaped and the line starts with '\\'.</summary>
    public static string Format(ManifestEntry e) =>
        e.Path.AsSpan().IndexOfAny('\\', '\n') < 0
            ? $"{e.Sha256}  {e.Path}"
            : $"\\{e.Sha256}  {e.Path.Replace("\\", "\\\\").Replace("\n", "\\n")}";
}
