using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MountChain.Cli.Infrastructure;
using MountChain.Core.Chain;
using MountChain.Core.Cow;

namespace MountChain.Cli.Commands;

/// <summary>Redo-log commands: create-child, write, commit, unlink, repair-log, bench-write.</summary>
public static class RedoCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return CreateChild();
        yield return Write();
        yield return Commit();
        yield return Unlink();
        yield return RepairLog();
        yield return BenchWrite();
    }

    private static Option<bool> JsonOption => CommonOptions.Json;

    private static Command CreateChild()
    {
        var command = new Command("create-child", $"VDDK CreateChild: a new, empty monolithicSparse redo log on a generation of the chain (recorded in PARENT{ChildRegistry.Suffix} beside the parent, so unlink and commit see it in any folder)");
        var source = new DiskSource().AddTo(command);
        var child = new Argument<FileInfo>("child") { Description = "The new redo log (.vmdk); must not exist" };
        command.Arguments.Add(child);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            if (parse.GetValue(source.SingleLink) || parse.GetValue(source.IgnoreCid))
                throw new UsageException("create-child needs the whole, validated chain (no --single-link or --ignore-cid)");
            var (path, selector) = source.Target(parse, source.ChainOptions(parse));
            using var chain = VmdkChain.Open(path, source.ChainOptions(parse));
            int g = DiskSource.GenerationIn(chain, selector);
            if (!chain.HasGeneration(g))
                throw new UsageException($"generation {g} does not exist (the chain has 0..{chain.TopGeneration})");
            using var log = RedoLogOperations.CreateChild(chain, g, parse.GetValue(child)!.FullName);
            foreach (var w in log.Warnings) Console.Error.WriteLine($"mountchain: warning: {w}");
            var result = new ChildCreated(log.Path, chain.Links[g].Path, g, log.Cid.ToString("x8"), log.ParentCid.ToString("x8"),
                log.ParentFileNameHint, log.CapacitySectors * 512);
            if (parse.GetValue(JsonOption)) Json.Write(result, Json.Types.ChildCreated);
            else Console.WriteLine($"created {result.File}: child of generation {g} ({result.Parent}), CID {result.Cid}, parentCID {result.ParentCid}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Write()
    {
        var command = new Command("write", "Write bytes (or zeros) into a redo log through the copy-on-write engine; the parents are never written");
        var log = new Argument<FileInfo>("log") { Description = "The redo log (top link) to write" };
        var offset = new Option<string>("--offset") { Description = "Byte offset in the virtual disk (suffixes K, M, G, T)", Required = true };
        var input = new Option<string?>("--input", "-i") { Description = "File to write, or '-' for stdin" };
        var zero = new Option<bool>("--zero") { Description = "Write zeros over --length bytes (zeroed grains; never resurrects parent data)" };
        var discard = new Option<bool>("--discard") { Description = "Discard (TRIM) --length bytes: reads as zeros afterwards" };
        var length = new Option<string?>("--length") { Description = "Bytes to zero/discard, or to take from --input (suffixes K, M, G, T)" };
        var force = new Option<bool>("--force") { Description = "Write even if other links name this log as their parent" };
        command.Arguments.Add(log);
        command.Options.Add(offset);
        command.Options.Add(input);
        command.Options.Add(zero);
        command.Options.Add(discard);
        command.Options.Add(length);
        command.Options.Add(force);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            long at = SizeText.Parse(parse.GetValue(offset)!, "--offset");
            string? inputPath = parse.GetValue(input);
            bool zeroing = parse.GetValue(zero) || parse.GetValue(discard);
            long? count = parse.GetValue(length) is { } l ? SizeText.Parse(l, "--length") : null;
            if (zeroing == (inputPath is not null))
                throw new UsageException("write needs exactly one of --input FILE|-, --zero or --discard");
            if (zeroing && count is null)
                throw new UsageException("--zero and --discard need --length");

            using var device = WritableGeneration.OpenLog(parse.GetValue(log)!.FullName, force: parse.GetValue(force));
            foreach (var repair in device.Log.Repairs) Console.Error.WriteLine($"mountchain: repaired {device.Log.Path}: {repair}");
            long written = 0;
            if (zeroing)
            {
                CheckInside(device.Length, at, count!.Value);
                if (parse.GetValue(discard)) device.Discard(at, count.Value);
                else device.WriteZeroes(at, count.Value);
                written = count.Value;
            }
            else
            {
                using Stream source = inputPath == "-" ? Console.OpenStandardInput() : File.OpenRead(inputPath!);
                byte[] buffer = new byte[4 << 20];
                long limit = count ?? long.MaxValue;
                while (written < limit)
                {
                    int want = (int)Math.Min(buffer.Length, limit - written);
                    int got = FillFrom(source, buffer.AsSpan(0, want));
                    if (got == 0) break;
                    CheckInside(device.Length, at + written, got);
                    device.Write(buffer.AsSpan(0, got), at + written);
                    written += got;
                }
                if (count is not null && written < count)
                    throw new IOException($"{inputPath}: input ended after {written} of {count} bytes (the bytes read were written)");
            }
            device.Flush();
            if (parse.GetValue(JsonOption)) Json.Write(new WriteResult(device.Log.Path, at, written, device.Log.Cid.ToString("x8"), device.Log.Repairs), Json.Types.WriteResult);
            else Console.WriteLine($"wrote {written} bytes at offset {at} into {device.Log.Path}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static int FillFrom(Stream source, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = source.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static void CheckInside(long capacity, long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > capacity)
            throw new UsageException($"range {offset}+{length} lies outside the {capacity}-byte disk");
    }

    private static Command Commit()
    {
        var command = new Command("commit", "Revert/commit: apply a redo log's grains to its parent (hosted sparse or flat), give the parent a new CID, delete the log");
        var log = new Argument<FileInfo>("log") { Description = "The redo log to commit" };
        var force = new Option<bool>("--force") { Description = $"Commit even if other links name the parent (they will be torn) or the log as parent. Checked: the .vmdk files in the log's and the parent's folders, and the children mountchain created (listed in LINK{ChildRegistry.Suffix}, any folder); children other tools made in other folders are not seen" };
        command.Arguments.Add(log);
        command.Options.Add(force);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            bool json = parse.GetValue(JsonOption);
            CommitResult result;
            using (var progress = new Progress("commit", 1, json))
            {
                long last = 0;
                result = RedoLogOperations.Commit(parse.GetValue(log)!.FullName, parse.GetValue(force), (done, total) =>
                {
                    progress.Advance(done - last);
                    last = done;
                });
            }
            foreach (var repair in result.Repairs) Console.Error.WriteLine($"mountchain: repaired {result.LogPath}: {repair}");
            if (json)
                Json.Write(new CommitOutput(result.LogPath, result.ParentPath, result.OldParentCid.ToString("x8"), result.NewParentCid.ToString("x8"), result.BytesCopied, result.BytesZeroed, result.Resumed), Json.Types.CommitOutput);
            else if (result.Resumed)
                Console.WriteLine($"finished an interrupted commit of {result.LogPath} into {result.ParentPath} (CID {result.NewParentCid:x8}); the log is deleted");
            else
                Console.WriteLine($"committed {result.BytesCopied} bytes (+{result.BytesZeroed} zeroed) into {result.ParentPath}; its CID is now {result.NewParentCid:x8}; {result.LogPath} deleted");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Unlink()
    {
        var command = new Command("unlink", "VDDK Unlink: delete a link's descriptor and extent files; refused while a known child names it as parent (see --force)");
        var link = new Argument<FileInfo>("link") { Description = "The link to delete" };
        var force = new Option<bool>("--force") { Description = $"Delete even if other links name it as their parent. Checked: the .vmdk files in its folder, and the children mountchain created on it (listed in LINK{ChildRegistry.Suffix}, any folder); children other tools made in other folders are not seen" };
        command.Arguments.Add(link);
        command.Options.Add(force);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            var deleted = RedoLogOperations.Unlink(parse.GetValue(link)!.FullName, parse.GetValue(force));
            if (parse.GetValue(JsonOption)) Json.Write(new UnlinkResult(deleted), Json.Types.UnlinkResult);
            else foreach (var f in deleted) Console.WriteLine($"deleted {f}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command RepairLog()
    {
        var command = new Command("repair-log", "Open a redo log for writing and close it: recovers it after a crash (uncleanShutdown) and reports what was repaired");
        var log = new Argument<FileInfo>("log") { Description = "The redo log" };
        command.Arguments.Add(log);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            using var redo = RedoLog.Open(parse.GetValue(log)!.FullName, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero });
            if (parse.GetValue(JsonOption)) Json.Write(new RepairResult(redo.Path, redo.Repairs), Json.Types.RepairResult);
            else if (redo.Repairs.Count == 0) Console.WriteLine($"{redo.Path}: clean, nothing to repair");
            else foreach (var r in redo.Repairs) Console.WriteLine($"{redo.Path}: {r}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BenchWrite()
    {
        var command = new Command("bench-write", "Write benchmark / load generator on a redo log (like qemu-img bench -w): random or sequential writes, optional flush after every N");
        var log = new Argument<FileInfo>("log") { Description = "The redo log (its content is overwritten)" };
        var pattern = new Option<string>("--pattern") { Description = "random-new-grains | sequential | mixed (random sizes 1 B..256 KiB at random offsets)", DefaultValueFactory = _ => "sequential" };
        var blockSize = new Option<string>("--block-size") { Description = "Bytes per write (suffixes K, M)", DefaultValueFactory = _ => "4K" };
        var countOption = new Option<int>("--count") { Description = "Number of writes", DefaultValueFactory = _ => 1000 };
        var flushEvery = new Option<int>("--flush-every") { Description = "Flush after every N writes (0: only at the end)", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random patterns", DefaultValueFactory = _ => 1 };
        var reportFlushes = new Option<bool>("--report-flushes") { Description = "Print 'flushed N' after each flush (crash tests)" };
        var threads = new Option<int>("--threads") { Description = "Concurrent writers, each doing --count writes with its own flushes (group commit shares their syncs)", DefaultValueFactory = _ => 1 };
        command.Arguments.Add(log);
        command.Options.Add(pattern);
        command.Options.Add(blockSize);
        command.Options.Add(countOption);
        command.Options.Add(flushEvery);
        command.Options.Add(seed);
        command.Options.Add(reportFlushes);
        command.Options.Add(threads);
        command.Options.Add(JsonOption);
        command.SetAction(parse =>
        {
            int count = parse.GetValue(countOption), every = parse.GetValue(flushEvery);
            bool report = parse.GetValue(reportFlushes);
            int writers = parse.GetValue(threads);
            if (writers < 1 || writers > 256) throw new UsageException("--threads: give 1 to 256 writers");
            using var device = WritableGeneration.OpenLog(parse.GetValue(log)!.FullName);
            int size = (int)SizeText.Parse(parse.GetValue(blockSize)!, "--block-size");
            if (writers > 1)
                return ConcurrentBenchWrite(device, parse.GetValue(pattern)!, size, parse.GetValue(seed), count, every, writers, parse.GetValue(JsonOption));
            var workload = new WriteWorkload(parse.GetValue(pattern)!, size, parse.GetValue(seed), device.Length, device.Log.GrainBytes);
            var stdout = Console.Out;
            // Only the engine's calls are timed, not the generation of the test data.
            var clock = new Stopwatch();
            long bytes = 0;
            for (int i = 0; i < count; i++)
            {
                var step = workload.Step(i);
                clock.Start();
                device.Write(step.Data, step.Offset);
                bytes += step.Data.Length;
                bool flush = every > 0 && (i + 1) % every == 0;
                if (flush) device.Flush();
                clock.Stop();
                if (flush && report) { stdout.WriteLine($"flushed {i}"); stdout.Flush(); }
            }
            clock.Start();
            device.Flush();
            clock.Stop();
            double seconds = clock.Elapsed.TotalSeconds;
            if (report) { stdout.WriteLine($"flushed {count - 1}"); stdout.Flush(); }
            var result = new WriteBenchResult(count, null, bytes, seconds, count / seconds, bytes / seconds / 1e6);
            if (parse.GetValue(JsonOption)) Json.Write(result, Json.Types.WriteBenchResult);
            else Console.WriteLine($"{count} writes, {bytes} bytes in {seconds:0.000} s: {result.Iops:0} IOPS, {result.MbPerSecond:0.0} MB/s");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>bench-write --threads N: N writers at once, each with its own stream (seed + writer) and flushes; wall-clock IOPS of all.</summary>
    private static int ConcurrentBenchWrite(WritableGeneration device, string pattern, int size, int seed, int count, int every, int writers, bool json)
    {
        var workloads = Enumerable.Range(0, writers)
            .Select(w => new WriteWorkload(pattern, size, seed + 7919 * w, device.Length, device.Log.GrainBytes)).ToArray();
        var clock = Stopwatch.StartNew();
        long bytes = 0;
        var threads = workloads.Select(workload => new Thread(() =>
        {
            long mine = 0;
            for (int i = 0; i < count; i++)
            {
                var step = workload.Step(i);
                device.Write(step.Data, step.Offset);
                mine += step.Data.Length;
                if (every > 0 && (i + 1) % every == 0) device.Flush();
            }
            Interlocked.Add(ref bytes, mine);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        device.Flush();
        double seconds = clock.Elapsed.TotalSeconds;
        long writes = (long)count * writers;
        var result = new WriteBenchResult(writes, writers, bytes, seconds, writes / seconds, bytes / seconds / 1e6);
        if (json) Json.Write(result, Json.Types.WriteBenchResult);
        else Console.WriteLine($"{writes} writes by {writers} writers, {bytes} bytes in {seconds:0.000} s: {result.Iops:0} IOPS, {result.MbPerSecond:0.0} MB/s");
        return ExitCodes.Success;
    }
}

/// <summary>The --json outputs of the redo-log commands (property order is the output's order).</summary>
internal sealed record ChildCreated(string File, string Parent, int Generation, string Cid, string ParentCid, string? ParentFileNameHint, long SizeBytes);
internal sealed record WriteResult(string File, long Offset, long WrittenBytes, string Cid, IReadOnlyList<string> Repairs);
internal sealed record CommitOutput(string Log, string Parent, string OldParentCid, string NewParentCid, long BytesCopied, long BytesZeroed, bool Resumed);
internal sealed record UnlinkResult(IReadOnlyList<string> Deleted);
internal sealed record RepairResult(string File, IReadOnlyList<string> Repairs);
internal sealed record WriteBenchResult(long Writes, int? Writers, long WrittenBytes, double Seconds, double Iops, double MbPerSecond);

/// <summary>Byte counts with binary suffixes: 512, 4K, 16M, 1G, 2T (also KiB/MiB forms).</summary>
public static class SizeText
{
    public static long Parse(string text, string option)
    {
        string t = text.Trim();
        long multiplier = 1;
        string digits = t.TrimEnd('B', 'b', 'i');
        if (digits.Length > 0 && char.IsLetter(digits[^1]))
        {
            multiplier = char.ToUpperInvariant(digits[^1]) switch
            {
                'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, 'T' => 1L << 40,
                _ => throw new UsageException($"{option}: '{text}' is not a size (use bytes or K, M, G, T)"),
            };
            digits = digits[..^1];
        }
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value > long.MaxValue / multiplier)
            throw new UsageException($"{option}: '{text}' is not a size (use bytes or K, M, G, T)");
        return value * multiplier;
    }
}

/// <summary>
/// Deterministic write streams for bench-write and the crash tests: step i's offset, length and
/// bytes depend only on (pattern, seed, i), so a test can recompute what a killed writer wrote.
/// </summary>
public sealed class WriteWorkload(string pattern, int blockSize, int seed, long capacity, long grainBytes)
{
    private int[]? _grainOrder;

    /// <summary>Step <paramref name="i"/>: the bytes (a fresh array) and where they go.</summary>
    public (long Offset, byte[] Data) Step(int i)
    {
        // Seeded System.Random is the same in every process (HashCode.Combine is not).
        var random = new Random(unchecked(seed * 1_000_003 + i * 7919 + 17));
        long offset;
        int length;
        switch (pattern)
        {
            case "sequential":
                length = blockSize;
                offset = (long)i * blockSize % (capacity - capacity % blockSize);
                break;
            case "random-new-grains":
                // One write per grain, grains in a random order: every write allocates (qemu-img bench -w on a fresh child with -S grain).
                _grainOrder ??= Shuffled((int)Math.Min(int.MaxValue, capacity / grainBytes), seed);
                length = blockSize;
                offset = _grainOrder[i % _grainOrder.Length] * grainBytes + random.NextInt64(0, (grainBytes - blockSize) / 512 + 1) * 512;
                break;
            case "mixed":
                length = random.Next(1, 256 * 1024 + 1);
                offset = random.NextInt64(0, capacity - length + 1);
                break;
            default:
                throw new UsageException($"--pattern: '{pattern}' is not random-new-grains, sequential or mixed");
        }
        var data = new byte[length];
        random.NextBytes(data);
        return (offset, data);
    }

    private static int[] Shuffled(int n, int seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        new Random(seed).Shuffle(order);
        return order;
    }
}
