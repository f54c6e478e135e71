using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;

namespace MountChain.Tests.Infrastructure;

/// <summary>
/// The one scratch directory type of the tests: a private folder under the temp directory, deleted
/// on dispose — after anything still mounted below it has been detached, so deleting never walks
/// into a mount.
/// </summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "mountchain-test")
    {
        Path = Directory.CreateTempSubdirectory(prefix + "-").FullName;
    }

    public string Path { get; }

    /// <summary>The path of <paramref name="name"/> inside the directory (not created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Creates the subdirectory <paramref name="name"/> and returns its path.</summary>
    public string Dir(string name) => Directory.CreateDirectory(File(name)).FullName;

    /// <summary>A raw image of <paramref name="size"/> random bytes (fixed seed, so failures repeat).</summary>
    public string RandomImage(string name, int size, int seed = 1)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        string path = File(name);
        System.IO.File.WriteAllBytes(path, data);
        return path;
    }

    public void Dispose()
    {
        if (OperatingSystem.IsLinux())
        {
            foreach (var m in MountTable.Read().Where(m => m.MountPoint.StartsWith(Path + "/", StringComparison.Ordinal)).Reverse())
                Unmounter.Unmount(m.MountPoint, lazy: true);
        }
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
