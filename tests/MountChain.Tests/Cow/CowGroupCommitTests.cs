using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cow;

/// <summary>Group commit: concurrent writers that each flush share syncs, and every flushed write survives a reopen.</summary>
public sealed class CowGroupCommitTests
{
    private static readonly RedoLogOptions NoTimer = new() { MetadataFlushInterval = TimeSpan.Zero };

    [CowToolsFact]
    public void Eight_writers_flushing_after_every_write_share_syncs_and_keep_every_write()
    {
        using var env = new CowEnvironment();
        var (_, child) = env.QemuChain();
        byte[] shadow = env.QemuRaw(child);
        string log = env.PathOf("group.vmdk");
        const int Writers = 8, Writes = 40;
        long flushCalls = 0;
        using (var chain = VmdkChain.Open(child))
        using (var device = RedoLog.OpenOrCreateFor(chain, 1, log, options: NoTimer))
        {
            long grainBytes = device.Log.Extent.GrainBytes;
            long grains = device.Length / grainBytes;
            var threads = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
            {
                for (int i = 0; i < Writes; i++)
                {
                    // Writer w owns grains w, w+8, w+16...: 4 KiB into a new grain each time, mid-grain (COW fill).
                    long grain = (w + (long)Writers * i) % grains;
                    long offset = grain * grainBytes + 4096;
                    var data = new byte[4096];
                    new Random(w * 1000 + i).NextBytes(data);
                    device.Write(data, offset);
                    lock (shadow) data.CopyTo(shadow, offset);
                    device.Flush();
                    Interlocked.Increment(ref flushCalls);
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            long syncedFlushes = device.Log.Extent.FlushCount;
            Assert.True(syncedFlushes < flushCalls, $"{flushCalls} flush calls took {syncedFlushes} flushes to disk: none were shared");
        }
        // Abandon nothing: close cleanly, then the log reads back like the shadow, through us and through qemu.
        env.QemuCheckClean(log);
        Assert.Equal(CowEnvironment.Sha(ShadowFile(env, shadow)), CowEnvironment.Sha(QemuRawFile(env, log)));
    }

    /// <summary>
    /// Group commit under power cuts: 8 writers, each on its own grains, flush after most writes
    /// while the others write and flush; a cut at a random I/O call, then a crash image, recovery
    /// and qemu-img check. Every write whose Flush returned must read back, whichever writer's
    /// sync covered it, and no byte may read as anything but its acknowledged value or a value a
    /// not yet acknowledged write of its owner put there (never zeros over the parent).
    /// </summary>
    [CowToolsFact]
    public void Power_cuts_under_eight_concurrent_flushing_writers_keep_every_acknowledged_write()
    {
        const long Capacity = 8 << 20;
        const int Writers = 8, Steps = 30, GrainBytes = 65536;
        int runs = int.TryParse(Environment.GetEnvironmentVariable("MOUNTCHAIN_CRASH_POINTS"), out int p) ? Math.Max(8, p / 4) : 30;
        using var env = new CowEnvironment();
        string b = env.PathOf("base.vmdk");
        env.Tool("qemu-img", $"create -f vmdk \"{b}\" {Capacity}");
        env.Tool("qemu-io", $"-f vmdk -c \"write -P 0x5a 0 {Capacity}\" \"{b}\"");
        byte[] parent = env.QemuRaw(b);
        var random = new Random(4242);
        int cuts = 0;
        long flushCalls = 0, syncedFlushes = 0;
        for (int run = 0; run < runs; run++)
        {
            string log = env.PathOf($"group-cut{run}.vmdk");
            using (var chain = VmdkChain.Open(b))
            using (RedoLogOperations.CreateChild(chain, 0, log)) { }
            var acknowledged = new List<(long Offset, byte[] Data)>[Writers];
            var pending = new List<(long Offset, byte[] Data)>[Writers];
            using (var power = new PowerLossFile(log, cutAt: random.Next(3, 350), concurrent: true))
            {
                var device = WritableGeneration.OpenLog(log, NoTimer with { Fault = power.Hook });
                power.Arm();
                int seed = random.Next();
                var threads = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
                {
                    var mine = new Random(seed + w);
                    var acked = acknowledged[w] = [];
                    var open = pending[w] = [];
                    try
                    {
                        for (int step = 0; step < Steps && !power.PowerCut; step++)
                        {
                            // Writer w owns grains w, w+8, ...: new grains, grains just recorded, settled ones.
                            long grain = w + Writers * mine.NextInt64(0, Capacity / GrainBytes / Writers);
                            int inGrain = mine.Next(4) == 0 ? 0 : mine.Next(0, GrainBytes - 1);
                            int length = inGrain == 0 && mine.Next(2) == 0 ? GrainBytes : mine.Next(1, GrainBytes - inGrain + 1);
                            var data = new byte[length];
                            mine.NextBytes(data);
                            open.Add((grain * GrainBytes + inGrain, data));
                            device.Write(data, grain * GrainBytes + inGrain);
                            if (mine.Next(4) == 0) continue;
                            device.Flush();
                            Interlocked.Increment(ref flushCalls);
                            acked.AddRange(open);
                            open.Clear();
                        }
                    }
                    catch (Exception) when (power.PowerCut)
                    {
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());
                syncedFlushes += device.Log.Extent.FlushCount;
                try { device.Dispose(); } catch (IOException) when (power.PowerCut) { }
                if (power.PowerCut) cuts++;
                else
                    for (int w = 0; w < Writers; w++) // the cut never came: the close made everything durable
                    {
                        acknowledged[w].AddRange(pending[w]);
                        pending[w].Clear();
                    }
                power.WriteCrashImage(random);
            }

            env.QemuCheckClean(log);
            using (RedoLog.Open(log, NoTimer)) { } // recovery
            env.QemuCheckClean(log);
            var expected = (byte[])parent.Clone();
            foreach (var writes in acknowledged)
                foreach (var (offset, data) in writes) data.CopyTo(expected, offset);
            byte[] actual;
            using (var chain = VmdkChain.Open(log))
            using (var device = chain.OpenGeneration(1))
            {
                actual = new byte[device.Length];
                device.Read(actual, 0);
            }
            CowPowerLossTests.AssertOnlyFlushedOrUnflushedValues(expected, pending.SelectMany(x => x).ToList(), actual, run);
            File.Delete(log);
        }
        Assert.True(cuts >= runs * 3 / 4, $"only {cuts} of {runs} runs were cut");
        Assert.True(syncedFlushes < flushCalls, $"{flushCalls} acknowledged flush calls took {syncedFlushes} flushes to disk: none were shared");
    }

    private static string ShadowFile(CowEnvironment env, byte[] shadow)
    {
        string path = env.PathOf("shadow.raw");
        File.WriteAllBytes(path, shadow);
        return path;
    }

    private static string QemuRawFile(CowEnvironment env, string vmdk)
    {
        string path = env.PathOf("log.raw");
        File.WriteAllBytes(path, env.QemuRaw(vmdk));
        return path;
    }
}
