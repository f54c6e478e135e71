using MountChain.Fuzz.Harness;
using MountChain.Fuzz.Targets;

// mountchain fuzz targets (issue 15). scripts/fuzz.sh is the usual way in.
//   list                          the targets
//   afl TARGET                    run under afl-fuzz (SharpFuzz's in-process fork server)
//   replay [-v] TARGET PATH...    every file (or every file under a folder) once, with the time rule; exit 1 on a failure
//   pack IMAGE OUT                turn a real image into the compact sparse-sector form of a seed

internal static class FuzzProgram
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine("usage: MountChain.Fuzz list | afl TARGET | replay [-v] TARGET PATH... | pack IMAGE OUT");
            return args.Length == 0 ? 2 : 0;
        }
        switch (args[0])
        {
            case "list":
                foreach (var t in TargetCatalog.All) Console.WriteLine($"{t.Name,-18} {t.Parser}");
                return 0;
            case "afl" when args.Length == 2:
                return Afl(Target(args[1]));
            case "replay" when args.Length >= 3 && args[1] == "-v":
                return Replay(Target(args[2]), args[3..], verbose: true);
            case "replay" when args.Length >= 3:
                return Replay(Target(args[1]), args[2..], verbose: false);
            case "pack" when args.Length == 3:
                using (var image = File.OpenRead(args[1])) File.WriteAllBytes(args[2], SparseImage.Encode(image));
                return 0;
            default:
                Console.Error.WriteLine($"unknown command line: {string.Join(' ', args)}");
                return 2;
        }
    }

    /// <summary>Inputs run before the time rule applies (JIT compilation of the parsers' paths).</summary>
    private const int WarmUpExecutions = 32;

    private static FuzzTarget Target(string name) => TargetCatalog.Find(name)
        ?? throw new ArgumentException($"no target '{name}' (see 'list')");

    /// <summary>
    /// SharpFuzz's out-of-process runner: inputs run in a child process that is restarted when AFL
    /// kills it for a hang (the 1 s rule), so one hang does not end the run.
    /// </summary>
    private static int Afl(FuzzTarget target)
    {
        using var scratch = new Scratch();
        var buffer = new MemoryStream();
        int executions = 0;
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            buffer.SetLength(0);
            stream.CopyTo(buffer);
            // The 1 s rule is checked here once the code is jitted (AFL's -t is only the backstop for
            // endless loops, set higher so that JIT on a loaded machine is not a "hang"); the replay confirms.
            var watch = System.Diagnostics.Stopwatch.StartNew();
            FuzzCheck.Run(target, buffer.ToArray(), scratch);
            if (++executions > WarmUpExecutions && watch.Elapsed > FuzzCheck.TimeLimit)
                throw new FuzzFailure($"{target.Name}: one input took {watch.Elapsed.TotalMilliseconds:F0} ms (limit {FuzzCheck.TimeLimit.TotalMilliseconds:F0} ms)");
        });
        return 0;
    }

    private static int Replay(FuzzTarget target, string[] paths, bool verbose)
    {
        using var scratch = new Scratch();
        var files = paths.SelectMany<string, string>(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal) : new[] { p }).ToList();
        int failed = 0;
        foreach (var file in files)
        {
            try
            {
                string? rejection = FuzzCheck.RunBounded(target, File.ReadAllBytes(file), scratch);
                if (verbose) Console.WriteLine($"{file}: {rejection ?? "accepted"}");
            }
            catch (FuzzFailure e)
            {
                failed++;
                Console.Error.WriteLine($"FAIL {file}: {e.Message}");
                if (e.InnerException is { } inner) Console.Error.WriteLine(inner.ToString());
            }
        }
        Console.WriteLine($"{target.Name}: {files.Count} inputs, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
