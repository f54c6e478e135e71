namespace MountChain.Tests.Nbd;

/// <summary>A fresh directory for one test's fixtures, deleted afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("mountchain-nbd-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

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
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
