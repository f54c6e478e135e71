using MountChain.Fuzz.Harness;

namespace MountChain.Tests.Fuzz;

/// <summary>Where the fuzz corpus (fuzz/corpus/TARGET) and the crash regressions (Fuzz/Crashes/TARGET) live.</summary>
public static class FuzzInputs
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string CorpusOf(string target) => Path.Combine(RepositoryRoot, "fuzz", "corpus", target);

    public static string CrashesOf(string target) => Path.Combine(RepositoryRoot, "tests", "MountChain.Tests", "Fuzz", "Crashes", target);

    public static byte[] Crash(string target, string name) => File.ReadAllBytes(Path.Combine(CrashesOf(target), name));

    /// <summary>A seed image of the corpus, decoded (its stored sectors are the metadata a mutation should hit).</summary>
    public static SparseSectors Seed(string target, string name) =>
        SparseImage.Decode(File.ReadAllBytes(Path.Combine(CorpusOf(target), name)));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MountChain.sln"))) return dir.FullName;
        throw new InvalidOperationException("MountChain.sln not found above " + AppContext.BaseDirectory);
    }
}
