using MountChain.Mounting.Lifecycle;
using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;
using static MountChain.Tests.Writable.WritableKit;

namespace MountChain.Tests.Writable;

/// <summary>The serving process of a writable mount dies by SIGKILL while dd writes through disk.raw.</summary>
public sealed class WritableCrashTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;
    private const int ChunkSize = 64 << 10;
    private const int Chunks = 256;
    /// <summary>Each chunk starts 4 KiB past a grain boundary, so every chunk is a partial-grain copy-on-write of two grains.</summary>
    private const int Skew = 4096;
    /// <summary>Chunks that must have been fsynced before the kill, so the test checks something.</summary>
    private const int KillAfter = 24;

    [RequiresFuseFact("qemu-img", "qemu-io", "dd", "sh")]
    public void Sigkill_mid_write_leaves_a_log_that_opens_checks_clean_and_holds_every_fsynced_chunk()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (baseVmdk, child) = RandomChain(scratch, 32 * MiB, seed: 51);
        var parents = Hashes(baseVmdk, child);
        string generation1 = scratch.File("generation1.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", child, generation1);
        string source = scratch.File("source.bin");
        File.WriteAllBytes(source, FuseBlockFileMountTests.RandomBytes(Chunks * ChunkSize, 52));
        string edit = scratch.File("edit.vmdk"), done = scratch.File("done.txt");
        string mp = scratch.Dir("mnt");
        string disk = Path.Combine(mp, "disk.raw");

        System.Diagnostics.Process? writer = null;
        try
        {
            var mounted = MountChainCli.Run("mount", child, mp, "--write", "--redo", edit);
            Assert.True(mounted.ExitCode == 0, mounted.Stderr);
            int server = ServerRegistry.Lookup(mp) ?? throw new InvalidOperationException($"no pid file {ServerRegistry.PidFile(mp)}");

            // One dd per chunk, each ending with fsync (conv=fsync); a chunk is listed only after its dd returned 0.
            string script =
                $"i=0; while [ $i -lt {Chunks} ]; do " +
                $"dd if='{source}' of='{disk}' bs={ChunkSize} count=1 skip=$i seek=$((i*{ChunkSize}+{Skew})) oflag=seek_bytes conv=notrunc,fsync status=none || exit 3; " +
                $"echo $i >> '{done}'; i=$((i+1)); done";
            // Output is not captured: dd is silent (status=none) and the test watches the done file.
            var start = ProcessRunner.StartInfo("sh", ["-c", script]);
            start.RedirectStandardOutput = start.RedirectStandardError = false;
            writer = System.Diagnostics.Process.Start(start)!;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (CountLines(done) < KillAfter)
            {
                Assert.False(writer.HasExited, $"the writer stopped early (exit {(writer.HasExited ? writer.ExitCode : 0)})");
                Assert.True(DateTime.UtcNow < deadline, "the writer made no progress");
                Thread.Sleep(5);
            }
            ProcessRunner.Check("kill", "-KILL", server.ToString());
            Assert.True(ServerRegistry.WaitForExit(server, TimeSpan.FromSeconds(10)), "the server survived SIGKILL");
            Assert.True(writer.WaitForExit(30_000), "the writer hung on the dead mount");
            Assert.True(writer.ExitCode == 3, $"the writer finished all {Chunks} chunks before the kill (exit {writer.ExitCode}); nothing was interrupted");

            var cleared = MountChainCli.Run("unmount", mp);
            Assert.True(cleared.ExitCode == 0, cleared.Stderr);
            Assert.Null(MountTable.Find(mp));
            Assert.Null(ServerRegistry.Lookup(mp));
        }
        finally
        {
            if (writer is { HasExited: false }) writer.Kill();
            MountChainCli.Run("unmount", "--lazy", mp);
        }

        var fsynced = File.ReadAllLines(done).Select(int.Parse).ToHashSet();
        Assert.True(fsynced.Count >= KillAfter && fsynced.SetEquals(Enumerable.Range(0, fsynced.Count)), "done.txt is not a prefix of the chunks");
        output.WriteLine($"{fsynced.Count} of {Chunks} chunks fsynced before SIGKILL; chunk {fsynced.Count} was in flight");
        byte[] expectedGeneration1 = File.ReadAllBytes(generation1), written = File.ReadAllBytes(source);

        // As the crash left it: marked unclean, yet qemu's check finds nothing (it does not look at
        // uncleanShutdown). qemu's view may still lack the last flushes' entries (they are in our
        // intent journal, format doc §2.10): every byte is then the written or the older value.
        // Our read-only open replays the journal in memory, so it already shows what repair writes.
        Assert.True(UncleanShutdown(edit), "a log killed mid-session should still be marked uncleanShutdown");
        AssertQemuCheckClean(edit);
        string crashed = scratch.File("crashed.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", edit, crashed);
        AssertChunks(File.ReadAllBytes(crashed), [], written, expectedGeneration1, olderAllowed: fsynced.Count + 1);
        string oursBeforeRepair = MountchainHash(edit);

        // Our repair clears the flag and reports what it reconciled; the data stays.
        var repair = MountChainCli.Run("repair-log", edit);
        Assert.True(repair.ExitCode == 0, repair.Stderr);
        Assert.Contains("uncleanShutdown", repair.Stdout);
        output.WriteLine("repair-log: " + repair.Stdout.Trim());
        Assert.False(UncleanShutdown(edit));
        AssertQemuCheckClean(edit);
        string repaired = scratch.File("repaired.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", edit, repaired);
        Assert.Equal(FuseBlockFileMountTests.Sha256(repaired), MountchainHash(edit));
        Assert.Equal(oursBeforeRepair, MountchainHash(edit));
        AssertChunks(File.ReadAllBytes(repaired), fsynced, written, expectedGeneration1);
        var again = MountChainCli.Run("repair-log", edit);
        Assert.True(again.ExitCode == 0 && again.Stdout.Contains("clean, nothing to repair"), again.Stdout + again.Stderr);
        AssertUnchanged(parents);
    }

    /// <summary>
    /// Fsynced chunks hold what dd wrote; chunks dd never started hold generation 1. The chunk in
    /// flight at the kill may hold either, or a mix, and is not checked.
    /// </summary>
    private static void AssertChunks(byte[] disk, HashSet<int> fsynced, byte[] written, byte[] generation1, int olderAllowed = 0)
    {
        int inFlight = fsynced.Count;
        for (int i = 0; i < Chunks; i++)
        {
            if (i == inFlight) continue;
            if (i < olderAllowed)
            {
                // Each byte is what dd wrote or what generation 1 held there (grain by grain either).
                long from = (long)i * ChunkSize + Skew;
                for (int k = 0; k < ChunkSize; k++)
                    Assert.True(disk[from + k] == written[i * ChunkSize + k] || disk[from + k] == generation1[from + k],
                        $"chunk {i} byte {k} is neither the written nor the older value");
                continue;
            }
            long at = (long)i * ChunkSize + Skew;
            var actual = disk.AsSpan((int)at, ChunkSize);
            var expected = fsynced.Contains(i) ? written.AsSpan(i * ChunkSize, ChunkSize) : generation1.AsSpan((int)at, ChunkSize);
            Assert.True(actual.SequenceEqual(expected), $"chunk {i} at {at} ({(fsynced.Contains(i) ? "fsynced" : "never written")}) differs");
        }
        Assert.True(disk.AsSpan(0, Skew).SequenceEqual(generation1.AsSpan(0, Skew)), "bytes before the first chunk changed");
        int end = Chunks * ChunkSize + Skew;
        Assert.True(disk.AsSpan(end).SequenceEqual(generation1.AsSpan(end)), "bytes after the last chunk changed");
    }

    private static int CountLines(string path)
    {
        try { return File.ReadAllLines(path).Length; }
        catch (FileNotFoundException) { return 0; }
    }
}
