namespace MountChain.Tests.Infrastructure;

/// <summary>A [Fact] that is skipped when qemu-img / qemu-io are not installed (CI has them).</summary>
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (!Qemu.Available) Skip = "qemu-img and qemu-io are required";
    }
}

/// <summary>A [Theory] that is skipped when qemu-img / qemu-io are not installed.</summary>
public sealed class QemuTheoryAttribute : TheoryAttribute
{
    public QemuTheoryAttribute()
    {
        if (!Qemu.Available) Skip = "qemu-img and qemu-io are required";
    }
}

/// <summary>Thin wrappers over qemu-img / qemu-io: the oracle and the maker of real chains.</summary>
public static class Qemu
{
    public static bool Available { get; } = ToolLocator.Exists("qemu-img") && ToolLocator.Exists("qemu-io");

    public static string Img(string workingDirectory, params string[] args) => ProcessRunner.Check("qemu-img", args, workingDirectory);

    /// <summary>Runs qemu-io commands (one per line) against <paramref name="image"/>; fails on any reported error.</summary>
    public static void Io(string workingDirectory, string image, IEnumerable<string> commands, string format = "vmdk")
    {
        var script = string.Join('\n', commands);
        if (script.Length == 0) return;
        var args = new List<string> { "-t", "unsafe" };
        if (!image.StartsWith("json:", StringComparison.Ordinal)) args.AddRange(["-f", format]);
        args.Add(image);
        var r = ProcessRunner.Run("qemu-io", args, workingDirectory, script + "\nquit\n");
        string all = r.Stdout + r.Stderr;
        if (r.ExitCode != 0 || all.Contains("error", StringComparison.OrdinalIgnoreCase) || all.Contains("fail", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"qemu-io on {image} failed: {all}");
    }

    /// <summary>A qemu "json:" file name that opens only <paramref name="file"/>, without its backing chain.</summary>
    public static string WithoutBacking(string file) =>
        "json:" + System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["driver"] = "vmdk",
            ["file"] = new Dictionary<string, string> { ["driver"] = "file", ["filename"] = Path.GetFullPath(file) },
            ["backing"] = null,
        });

    /// <summary>`qemu-img convert -O raw` of <paramref name="source"/> (file name or json: spec) into <paramref name="raw"/>.</summary>
    public static void ConvertToRaw(string source, string raw) =>
        Img(Path.GetDirectoryName(raw)!, "convert", "-O", "raw", source, raw);

    /// <summary>Parsed `qemu-img map --output=json`.</summary>
    public static List<QemuMapEntry> Map(string source)
    {
        string json = Img(Environment.CurrentDirectory, "map", "--output=json", source);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.EnumerateArray().Select(e => new QemuMapEntry(
            e.GetProperty("start").GetInt64(), e.GetProperty("length").GetInt64(), e.GetProperty("depth").GetInt32(),
            e.GetProperty("present").GetBoolean(), e.GetProperty("zero").GetBoolean(), e.GetProperty("data").GetBoolean())).ToList();
    }
}

public readonly record struct QemuMapEntry(long Start, long Length, int Depth, bool Present, bool Zero, bool Data);
