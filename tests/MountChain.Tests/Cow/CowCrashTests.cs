using System.Diagnostics;
using MountChain.Cli.Commands;
using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Core.Errors;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MountChain.Tests.Cow;

/// <summary>
/// SIGKILL a writer (or a commit) at random points; the log must open, check clean and keep every
/// flushed write. MOUNTCHAIN_CRASH_ITERATIONS sets the writer kills (CI default 10; the long run
/// used 500: 261 of them after a flush, all passed).
/// </summary>
public sealed class CowCrashTests(ITestOutputHelper output)
{
    [CowToolsFact]
    public void Killed_writer_leaves_a_log_that_checks_clean_and_keeps_every_flushed_write()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        byte[] generation = env.QemuRaw(c);
        var random = new Random(77);
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("MOUNTCHAIN_CRASH_ITERATIONS"), out int n) ? n : 10;
        int sawFlushes = 0, sawRepairs = 0;
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            string log = env.PathOf($"crash{iteration}.vmdk");
            using (var chain = VmdkChain.Open(c))
            using (RedoLogOperations.CreateChild(chain, 1, log)) { }
            int seed = 1000 + iteration;
            // Every third run: 4 KiB into new grains with a flush after each, i.e. mostly inside the one-sync flush path.
            string pattern = iteration % 3 == 2 ? "random-new-grains" : "mixed";
            int flushEvery = pattern == "mixed" ? 3 : 1;
            var psi = MountChainCli.StartInfoIn(env.Dir, "bench-write", log, "--pattern", pattern, "--count", "10000000",
                "--flush-every", flushEvery.ToString(), "--seed", seed.ToString(), "--report-flushes");
            int lastFlushed = -1;
            using var firstFlush = new ManualResetEventSlim();
            using (var p = Process.Start(psi)!)
            {
                p.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.StartsWith("flushed ", StringComparison.Ordinal))
                    {
                        lastFlushed = Math.Max(lastFlushed, int.Parse(line[8..]));
                        firstFlush.Set();
                    }
                };
                p.BeginOutputReadLine();
                // Odd runs count the random delay from the first flush, so a slow start (a loaded
                // machine) cannot keep every kill before it; even runs also kill during start-up.
                if (iteration % 2 == 1) firstFlush.Wait(TimeSpan.FromSeconds(60));
                Thread.Sleep(random.Next(300, 1600));
                p.Kill(); // SIGKILL
                p.WaitForExit();
            }
            output.WriteLine($"iteration {iteration}: killed after flush of step {lastFlushed}");
            if (lastFlushed >= 0) sawFlushes++;

            env.QemuCheckClean(log); // the crashed file as qemu sees it
            using (var repaired = RedoLog.Open(log)) if (repaired.Repairs.Count > 0) sawRepairs++;
            env.QemuCheckClean(log);

            byte[] actual;
            using (var chain = VmdkChain.Open(log))
            using (var device = chain.OpenGeneration(2))
            {
                actual = new byte[device.Length];
                device.Read(actual, 0);
            }
            AssertFlushedWritesPresent(generation, actual, pattern, flushEvery, seed, lastFlushed);
            File.Delete(log);
        }
        Assert.True(sawFlushes >= iterations / 2, $"only {sawFlushes} runs got as far as a flush: the test did not exercise crashes after flushes");
        output.WriteLine($"{iterations} kills, {sawFlushes} after a flush; {sawRepairs} opens repaired something");
    }

    /// <summary>Every byte equals the state after the last flushed step, or a value some later (unflushed) step wrote there.</summary>
    private static void AssertFlushedWritesPresent(byte[] generation, byte[] actual, string pattern, int flushEvery, int seed, int lastFlushed)
    {
        var workload = new WriteWorkload(pattern, 4096, seed, generation.Length, 65536);
        byte[] expected = (byte[])generation.Clone();
        for (int i = 0; i <= lastFlushed; i++)
        {
            var (offset, data) = workload.Step(i);
            data.CopyTo(expected, offset);
        }
        var uncertain = Enumerable.Range(lastFlushed + 1, flushEvery).Select(i => workload.Step(i)).ToList();
        int pos = 0;
        while (pos < actual.Length)
        {
            int same = actual.AsSpan(pos).CommonPrefixLength(expected.AsSpan(pos));
            pos += same;
            if (pos >= actual.Length) break;
            bool explained = uncertain.Any(u => pos >= u.Offset && pos < u.Offset + u.Data.Length && u.Data[pos - u.Offset] == actual[pos]);
            Assert.True(explained, $"byte {pos} is {actual[pos]:x2}, expected {expected[pos]:x2} (last flushed step {lastFlushed}, seed {seed})");
            pos++;
        }
    }

    [CowToolsFact]
    public void Killed_commit_leaves_the_old_or_the_new_state_and_a_rerun_finishes_it()
    {
        using var env = new CowEnvironment();
        var random = new Random(99);
        double fullRunMs = 0;
        int interrupted = 0;
        for (int iteration = 0; iteration < 5; iteration++)
        {
            string dir = Path.Combine(env.Dir, $"i{iteration}");
            Directory.CreateDirectory(dir);
            string parent = Path.Combine(dir, "base.vmdk"), log = Path.Combine(dir, "log.vmdk");
            env.Tool("qemu-img", $"create -f vmdk \"{parent}\" 128M");
            env.Tool("qemu-io", $"-f vmdk -c \"write -P 0x71 0 30M\" \"{parent}\"");
            using (var chain = VmdkChain.Open(parent))
            using (var device = RedoLog.OpenOrCreateFor(chain, 0, log))
            {
                var data = new byte[1 << 20];
                for (int i = 0; i < 100; i++)
                {
                    random.NextBytes(data);
                    device.Write(data.AsSpan(0, random.Next(1, data.Length)), random.NextInt64(0, device.Length - data.Length));
                }
                device.WriteZeroes(5 << 20, 3 << 20);
            }
            byte[] expected = env.QemuRaw(log);

            var clock = Stopwatch.StartNew();
            using (var p = Process.Start(MountChainCli.StartInfoIn(dir, "commit", log))!)
            {
                // Run 0 measures a whole commit (process start included); later runs are killed inside that time.
                if (iteration % 2 == 1)
                {
                    // Wait until the commit is writing the parent (uncleanShutdown set), then kill soon after.
                    var wait = Stopwatch.StartNew();
                    while (!p.HasExited && CowEngineTests.ReadByte(parent, 0x48) == 0 && wait.ElapsedMilliseconds < 10_000) Thread.Sleep(1);
                    Thread.Sleep(random.Next(0, 40));
                }
                else if (iteration > 0) Thread.Sleep((int)(fullRunMs * (0.55 + 0.45 * random.NextDouble())));
                if (iteration > 0 && !p.HasExited) p.Kill();
                p.WaitForExit();
                if (iteration == 0) fullRunMs = clock.Elapsed.TotalMilliseconds;
            }
            bool logExists = File.Exists(log);
            if (logExists) interrupted++;
            output.WriteLine($"iteration {iteration}: log {(logExists ? "still there" : "deleted")}");
            byte[] seen;
            try
            {
                seen = ReadTop(logExists ? log : parent);
            }
            catch (ChainMismatchException)
            {
                // The parent's CID already changed: the new state is the parent alone.
                seen = ReadTop(parent);
            }
            Assert.True(seen.AsSpan().SequenceEqual(expected), $"iteration {iteration}: neither the old nor the new state is readable");

            if (logExists || File.Exists(log + RedoLogOperations.CommitMarkerSuffix)) RedoLogOperations.Commit(log);
            Assert.False(File.Exists(log));
            Assert.False(File.Exists(log + RedoLogOperations.CommitMarkerSuffix));
            env.QemuCheckClean(parent);
            Assert.True(env.QemuRaw(parent).AsSpan().SequenceEqual(expected));
        }
        Assert.True(interrupted > 0, "no run was killed before the commit finished");
    }

    private static byte[] ReadTop(string path)
    {
        using var chain = VmdkChain.Open(path);
        using var device = chain.OpenGeneration(chain.TopGeneration);
        var bytes = new byte[device.Length];
        device.Read(bytes, 0);
        return bytes;
    }
}
