using System.CommandLine;
using System.Diagnostics;
using MountChain.Cli.Infrastructure;
using MountChain.Core.BlockDevices;

namespace MountChain.Cli.Commands;

/// <summary>
/// `bench`: measures the read path of a generation in-process — open + first read latency, random
/// reads (IOPS) or a sequential pass (GB/s) — and the process's peak resident memory. Every read
/// goes through <see cref="IBlockDevice.Read"/> to the files; nothing is cached beyond the grain map
/// and what the OS page cache holds. perf/e2e.sh compares the numbers with qemu-img/qemu-io.
/// </summary>
public static class BenchCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Bench();
    }

    private static Command Bench()
    {
        var command = new Command("bench", "Measure reads of a generation: open latency, random-read IOPS or sequential GB/s, peak RSS");
        var source = new DiskSource().AddTo(command);
        var mode = new Option<string>("--mode") { Description = "random (aligned reads at uniformly random offsets) or sequential (whole disk in order)", DefaultValueFactory = _ => "random" };
        var size = new Option<int>("--size") { Description = "Bytes per read (default: random 4096, sequential 1 MiB)" };
        var count = new Option<long>("--count") { Description = "Random reads in total, across threads", DefaultValueFactory = _ => 1_000_000 };
        var threads = new Option<int>("--threads") { Description = "Reader threads (default: processor count)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<int>("--seed") { Description = "PRNG seed of the random offsets", DefaultValueFactory = _ => 1 };
        var json = CommonOptions.Json;
        foreach (var o in new Option[] { mode, size, count, threads, seed, json }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            string m = parse.GetValue(mode)!;
            if (m is not ("random" or "sequential")) throw new UsageException($"--mode must be random or sequential, not '{m}'");
            int t = parse.GetValue(threads);
            long n = parse.GetValue(count);
            int bytes = parse.GetValue(size);
            if (bytes == 0) bytes = m == "random" ? 4096 : 1 << 20;
            if (bytes < 512 || bytes % 512 != 0 || bytes > 64 << 20) throw new UsageException($"--size must be a multiple of 512 up to 64 MiB (got {bytes})");
            if (t < 1 || t > 256) throw new UsageException($"--threads must be 1..256 (got {t})");
            if (n < 1) throw new UsageException($"--count must be positive (got {n})");

            // Open + first read: what a client waits for before the first byte of a cold generation.
            var clock = Stopwatch.StartNew();
            using var disk = source.Open(parse);
            double openMs = clock.Elapsed.TotalMilliseconds;
            var first = new byte[4096];
            disk.Device.Read(first.AsSpan(0, (int)Math.Min(first.Length, disk.Device.Length)), 0);
            double firstReadMs = clock.Elapsed.TotalMilliseconds;

            using var self = Process.GetCurrentProcess();
            var cpuBefore = self.TotalProcessorTime;
            var result = m == "random"
                ? RandomReads(disk.Device, bytes, n, t, parse.GetValue(seed))
                : SequentialPass(disk.Device, bytes);
            self.Refresh();
            double cpuSeconds = (self.TotalProcessorTime - cpuBefore).TotalSeconds;
            long peakRss = self.PeakWorkingSet64;
            long gcCommitted = GC.GetTotalAllocatedBytes(precise: true); int gcCount = GC.CollectionCount(0);
            long mapRuns = disk.Device is Core.Chain.GenerationDevice g ? g.Map.CachedRuns : 0;
            // The same again with everything jitted: separates the chain's own open cost from JIT.
            clock.Restart();
            using (var again = source.Open(parse))
                again.Device.Read(first.AsSpan(0, (int)Math.Min(first.Length, again.Device.Length)), 0);
            double warmOpenMs = clock.Elapsed.TotalMilliseconds;
            var report = new BenchReport(disk.SourcePath, disk.Generation, disk.Chain?.Links.Count ?? 1, m, bytes, m == "random" ? t : 1,
                result.Reads, result.Bytes, Math.Round(result.Seconds, 4), Math.Round(result.Reads / result.Seconds),
                Math.Round(result.Bytes / result.Seconds / 1e9, 3), Math.Round(openMs, 3), Math.Round(firstReadMs, 3),
                Math.Round(warmOpenMs, 3), Math.Round(cpuSeconds, 3), Math.Round(result.Reads / Math.Max(cpuSeconds, 1e-9)), peakRss, gcCommitted, gcCount, mapRuns);
            if (parse.GetValue(json)) Json.Write(report, Json.Types.BenchReport);
            else
            {
                Console.WriteLine($"{report.File} generation {report.Generation} ({report.Links} links), {m} {bytes}-byte reads, {report.Threads} thread(s)");
                Console.WriteLine($"  open: {report.OpenMs} ms   open + first read: {report.OpenFirstReadMs} ms (again, jitted: {report.WarmOpenFirstReadMs} ms)");
                Console.WriteLine($"  {report.Reads} reads, {Progress.FormatBytes(report.ReadTotalBytes)} in {report.Seconds} s: {report.Iops} IOPS, {report.GigabytesPerSecond} GB/s; {report.CpuSeconds} s CPU ({report.ReadsPerCpuSecond} reads per CPU second)");
                Console.WriteLine($"  peak RSS: {Progress.FormatBytes(report.PeakRssBytes)} (allocated in all: {Progress.FormatBytes(report.AllocatedBytes)} in {report.Gen0Collections} gen0 GCs; grain map: {report.MapRuns} runs cached)");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private readonly record struct Measured(long Reads, long Bytes, double Seconds);

    /// <summary>
    /// <paramref name="total"/> reads of <paramref name="bytes"/> at random aligned offsets, split over
    /// <paramref name="threadCount"/> threads, each with its own buffer and xorshift generator.
    /// </summary>
    private static Measured RandomReads(IBlockDevice device, int bytes, long total, int threadCount, int seed)
    {
        long slots = device.Length / bytes;
        if (slots < 1) throw new UsageException($"the disk is smaller than one {bytes}-byte read");
        var workers = new Thread[threadCount];
        Exception? failure = null;
        using var start = new ManualResetEventSlim();
        for (int w = 0; w < threadCount; w++)
        {
            long share = total / threadCount + (w < total % threadCount ? 1 : 0);
            ulong state = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)w * 0xD1B54A32D192ED03UL + 1;
            workers[w] = new Thread(() =>
            {
                var buffer = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
                ulong s = state;
                start.Wait();
                try
                {
                    for (long i = 0; i < share; i++)
                    {
                        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                        device.Read(buffer, (long)(s % (ulong)slots) * bytes);
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
            }) { IsBackground = true, Name = $"bench-{w}" };
            workers[w].Start();
        }
        var clock = Stopwatch.StartNew();
        start.Set();
        foreach (var w in workers) w.Join();
        double seconds = clock.Elapsed.TotalSeconds;
        if (failure is not null) throw failure;
        return new Measured(total, total * bytes, seconds);
    }

    /// <summary>The whole disk in order, one thread, one buffer of <paramref name="bytes"/> (no read-ahead: `cat` measures that path).</summary>
    private static Measured SequentialPass(IBlockDevice device, int bytes)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
        long reads = 0;
        var clock = Stopwatch.StartNew();
        for (long pos = 0; pos < device.Length; pos += bytes, reads++)
            device.Read(buffer.AsSpan(0, (int)Math.Min(bytes, device.Length - pos)), pos);
        return new Measured(reads, device.Length, clock.Elapsed.TotalSeconds);
    }

    internal sealed record BenchReport(string File, int Generation, int Links, string Mode, int ReadSizeBytes, int Threads,
        long Reads, long ReadTotalBytes, double Seconds, double Iops, double GigabytesPerSecond, double OpenMs, double OpenFirstReadMs, double WarmOpenFirstReadMs,
        double CpuSeconds, double ReadsPerCpuSecond, long PeakRssBytes, long AllocatedBytes, int Gen0Collections, long MapRuns);
}
