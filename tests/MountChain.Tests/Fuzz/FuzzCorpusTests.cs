using MountChain.Fuzz.Harness;
using MountChain.Fuzz.Targets;

namespace MountChain.Tests.Fuzz;

/// <summary>
/// Every fuzz target over its committed seed corpus and its crash regressions, with the fuzzer's
/// rules (only documented input errors, ≤ 1 s, ≤ 64 MiB allocated per input): what AFL found once
/// stays fixed, and the seeds stay valid inputs the targets accept.
/// </summary>
public sealed class FuzzCorpusTests
{
    public static TheoryData<string> Targets() => new(TargetCatalog.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_and_crash_inputs_keep_the_rules(string name)
    {
        var target = TargetCatalog.Find(name)!;
        var files = Directory.EnumerateFiles(FuzzInputs.CorpusOf(name)).ToList();
        Assert.NotEmpty(files);
        if (Directory.Exists(FuzzInputs.CrashesOf(name))) files.AddRange(Directory.EnumerateFiles(FuzzInputs.CrashesOf(name)));
        using var scratch = new Scratch();
        var failures = new List<string>();
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            try { FuzzCheck.RunBounded(target, File.ReadAllBytes(file), scratch); }
            catch (FuzzFailure e) { failures.Add($"{Path.GetFileName(file)}: {e.Message}"); }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Seeds are real, valid files: at least one per target must be accepted whole (else the fuzzer only explores the first check).</summary>
    [Theory]
    [MemberData(nameof(Targets))]
    public void Some_seed_is_accepted(string name)
    {
        var target = TargetCatalog.Find(name)!;
        using var scratch = new Scratch();
        var rejections = Directory.EnumerateFiles(FuzzInputs.CorpusOf(name))
            .Select(f => FuzzCheck.RunBounded(target, File.ReadAllBytes(f), scratch)).ToList();
        Assert.Contains(null, rejections);
    }
}
