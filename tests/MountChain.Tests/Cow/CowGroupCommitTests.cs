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
