using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.ReadOnly;

/// <summary>
/// Proves a CLI run left its inputs alone, two ways: every input file's sha256, size and mtime are
/// the same afterwards, and an strace of the whole process tree (<c>-f</c>) shows no input opened
/// with O_WRONLY, O_RDWR, O_CREAT or O_TRUNC, and no input truncated, renamed, unlinked, chmod'ed
/// or re-timed by path.
/// </summary>
public sealed partial class InputGuard(IReadOnlyList<string> inputs, string workDir)
{
    /// <summary>Path-taking syscalls that could change an input (open* with write flags, or any of the others on an input).</summary>
    private const string Syscalls = "open,openat,openat2,creat,truncate,rename,renameat,renameat2,unlink,unlinkat,utimensat,utimes,chmod,fchmodat,chown,fchownat,setxattr,removexattr";

    private readonly HashSet<string> _inputs = inputs.Select(Path.GetFullPath).ToHashSet();
    private readonly Dictionary<string, (string Sha256, long Size, DateTime Mtime)> _before =
        inputs.ToDictionary(Path.GetFullPath, Snapshot);
    private int _traces;

    public static (string, long, DateTime) Snapshot(string path)
    {
        var info = new FileInfo(path);
        using var stream = File.OpenRead(path);
        return (Convert.ToHexString(SHA256.HashData(stream)), info.Length, info.LastWriteTimeUtc);
    }

    /// <summary>strace's argument list for a command; the trace goes to a fresh file under the work dir.</summary>
    public (List<string> Args, string TraceFile) TracedCommand(IEnumerable<string> command)
    {
        string trace = Path.Combine(workDir, $"trace-{Interlocked.Increment(ref _traces)}.txt");
        return (["-f", "-qq", "--seccomp-bpf", "-e", $"trace={Syscalls}", "-o", trace, "--", .. command], trace);
    }

    /// <summary>Runs `mountchain ARGS` under strace; returns its result and the trace file.</summary>
    public (ProcessResult Result, string Trace) Run(params string[] args)
    {
        var (straceArgs, trace) = TracedCommand([MountChainCli.Program.File, .. MountChainCli.Program.Prefix, .. args]);
        var result = ProcessRunner.Run("strace", straceArgs, workDir, timeout: TimeSpan.FromMinutes(3));
        return (result, trace);
    }

    /// <summary>Starts `mountchain ARGS` under strace for a front-end that keeps running (serve, mount --foreground).</summary>
    public (Process Strace, string Trace) Start(params string[] args)
    {
        var (straceArgs, trace) = TracedCommand([MountChainCli.Program.File, .. MountChainCli.Program.Prefix, .. args]);
        return (Process.Start(StartInfo("strace", straceArgs, workDir))!, trace);
    }

    /// <summary>The pid of the traced program (strace's child).</summary>
    public static int TracedPid(Process strace)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            string children = File.ReadAllText($"/proc/{strace.Id}/task/{strace.Id}/children").Trim();
            if (children.Length > 0) return int.Parse(children.Split(' ')[0]);
            if (DateTime.UtcNow > deadline) throw new TimeoutException("strace started no child");
            Thread.Sleep(20);
        }
    }

    /// <summary>Every syscall in <paramref name="trace"/> that opened an input for writing or changed one by path.</summary>
    public List<string> Violations(string trace)
    {
        var found = new List<string>();
        foreach (var line in File.ReadLines(trace))
        {
            var call = CallPattern().Match(line);
            if (!call.Success) continue;
            string name = call.Groups["name"].Value;
            foreach (Match quoted in QuotedPattern().Matches(call.Groups["args"].Value))
            {
                string path = Unescape(quoted.Groups[1].Value);
                if (!_inputs.Contains(Path.GetFullPath(path, workDir))) continue;
                bool opening = name is "open" or "openat" or "openat2";
                if (!opening || WriteFlags().IsMatch(call.Groups["args"].Value)) found.Add(line);
            }
        }
        return found;
    }

    /// <summary>Asserts the trace is clean and every input unchanged; <paramref name="what"/> names the command in the failure.</summary>
    public void AssertUntouched(string what, string trace)
    {
        Assert.True(File.Exists(trace), $"{what}: no strace output");
        Assert.True(new FileInfo(trace).Length > 0 && File.ReadLines(trace).Any(l => l.Contains("openat(")), $"{what}: the trace saw no openat at all");
        var violations = Violations(trace);
        Assert.True(violations.Count == 0, $"{what} opened or changed an input for writing:\n{string.Join("\n", violations.Take(10))}");
        foreach (var (path, before) in _before)
            Assert.True(Snapshot(path) == before, $"{what}: {path} changed (sha256, size or mtime)");
    }

    /// <summary>True when <paramref name="trace"/> shows at least one input opened by this run (reads were really traced).</summary>
    public bool SawInputOpened(string trace) =>
        File.ReadLines(trace).Any(line => QuotedPattern().Matches(line).Any(m => _inputs.Contains(Path.GetFullPath(Unescape(m.Groups[1].Value), workDir))));

    private static string Unescape(string s) => s.Replace("\\\"", "\"").Replace("\\\\", "\\");

    // "1234  openat(AT_FDCWD, "/x", O_RDONLY|O_CLOEXEC) = 3" (pid prefix from -f; "<unfinished ...>" lines carry the same start)
    [GeneratedRegex(@"^(?:\[pid\s+)?\d*\]?\s*(?<name>[a-z0-9_]+)\((?<args>.*)")]
    private static partial Regex CallPattern();

    [GeneratedRegex("\"((?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex QuotedPattern();

    [GeneratedRegex(@"\bO_(?:WRONLY|RDWR|CREAT|TRUNC)\b")]
    private static partial Regex WriteFlags();
}

/// <summary>A fact that runs the CLI under strace on qemu-made chains; skipped, with the reason, when a tool is missing.</summary>
public sealed class StraceFactAttribute : FactAttribute
{
    public StraceFactAttribute(params string[] more) => Skip = StraceTheoryAttribute.Missing(more);
}

/// <summary>The theory form of <see cref="StraceFactAttribute"/>.</summary>
public sealed class StraceTheoryAttribute : TheoryAttribute
{
    public StraceTheoryAttribute(params string[] more) => Skip = Missing(more);

    internal static string? Missing(string[] more)
    {
        var missing = new[] { "strace", "qemu-img", "qemu-io" }.Concat(more).Where(t => !ToolLocator.Exists(t)).ToList();
        return missing.Count > 0 ? "needs " + string.Join(", ", missing) : null;
    }
}
