namespace MountChain.Fuzz.Harness;

/// <summary>A scratch folder (on /dev/shm when there is one) that targets write their files into; emptied between inputs.</summary>
public sealed class Scratch : IDisposable
{
    public Scratch()
    {
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        Folder = Path.Combine(root, $"mountchain-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>Removes what the previous input left.</summary>
    public void Clear()
    {
        foreach (var f in Directory.EnumerateFileSystemEntries(Folder))
        {
            if (Directory.Exists(f)) Directory.Delete(f, true);
            else File.Delete(f);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}
