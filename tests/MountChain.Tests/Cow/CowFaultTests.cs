using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Core.Formats;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cow;

/// <summary>I/O errors, a full file system and a read-only one: clear errors, a consistent log, flushed writes kept.</summary>
public sealed class CowFaultTests
{
    [CowToolsFact]
    public void An_IO_error_in_flush_stops_writes_and_the_next_open_recovers_the_flushed_state()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        byte[] expected = env.QemuRaw(c);
        string log = env.PathOf("eio.vmdk");
        bool failSyncs = false;
        var options = new RedoLogOptions
        {
            MetadataFlushInterval = TimeSpan.Zero,
            Fault = (io, _, _) => failSyncs && io == FileOperation.Sync ? new IOException("Input/output error") : null,
        };
        var kept = new byte[1 << 20];
        new Random(3).NextBytes(kept);
        using (var chain = VmdkChain.Open(c))
        {
            var device = RedoLog.OpenOrCreateFor(chain, 1, log, options: options);
            device.Write(kept, 100_000);
            device.Flush();
            failSyncs = true;
            device.Write(new byte[3 << 20], 20 << 20);
            var flush = Assert.Throws<IOException>(device.Flush);
            Assert.Contains(log, flush.Message);
            Assert.Contains("Input/output error", flush.Message);
            var next = Assert.Throws<IOException>(() => device.Write(new byte[10], 0));
            Assert.Contains("earlier I/O error", next.Message);
            device.Dispose(); // leaves uncleanShutdown set for the next open
        }
        Assert.Equal(1, CowEngineTests.ReadByte(log, 0x48));
        kept.CopyTo(expected, 100_000);
        using (var reopened = RedoLog.Open(log, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero }))
            Assert.Contains(reopened.Repairs, r => r.Contains("uncleanShutdown"));
        env.QemuCheckClean(log);
        byte[] after = env.QemuRaw(log);
        Assert.True(after.AsSpan(100_000, kept.Length).SequenceEqual(kept), "a write flushed before the error is lost");
        // The unflushed grains were never referenced: the range reads as before (parent data) or as the lost zeros.
        Assert.True(after.AsSpan(0, 100_000).SequenceEqual(expected.AsSpan(0, 100_000)));
    }

    [CowToolsFact]
    public void A_failed_data_write_is_reported_and_the_log_stays_usable()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        byte[] expected = env.QemuRaw(c);
        string log = env.PathOf("enospc.vmdk");
        bool failWrites = false;
        var options = new RedoLogOptions
        {
            MetadataFlushInterval = TimeSpan.Zero,
            Fault = (io, offset, length) => failWrites && io == FileOperation.Write && length >= 65536 ? new IOException("No space left on device") : null,
        };
        using (var chain = VmdkChain.Open(c))
        using (var device = RedoLog.OpenOrCreateFor(chain, 1, log, options: options))
        {
            device.Write(Enumerable.Repeat((byte)7, 200_000).ToArray(), 0);
            device.Flush();
            failWrites = true;
            var e = Assert.Throws<IOException>(() => device.Write(new byte[1 << 20], 8 << 20));
            Assert.Contains("No space left", e.Message);
            failWrites = false;
            device.Write(Enumerable.Repeat((byte)9, 1000).ToArray(), 50_000_000);
        }
        Array.Fill(expected, (byte)7, 0, 200_000);
        Array.Fill(expected, (byte)9, 50_000_000, 1000);
        env.QemuCheckClean(log);
        Assert.True(env.QemuRaw(log).AsSpan().SequenceEqual(expected));
    }

    [CowRootFact]
    public void A_full_file_system_gives_a_clear_error_and_keeps_flushed_writes_and_read_only_refuses()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        byte[] expected = env.QemuRaw(c);
        string mount = env.PathOf("small");
        Directory.CreateDirectory(mount);
        env.Tool("mount", $"-t tmpfs -o size=3M tmpfs \"{mount}\"");
        try
        {
            string log = Path.Combine(mount, "full.vmdk");
            var random = new Random(8);
            using (var chain = VmdkChain.Open(c))
            using (var device = RedoLog.OpenOrCreateFor(chain, 1, log))
            {
                var chunk = new byte[256 << 10];
                long offset = 0;
                IOException? error = null;
                for (int i = 0; i < 100 && error is null; i++)
                {
                    random.NextBytes(chunk);
                    try
                    {
                        device.Write(chunk, offset);
                        device.Flush();
                        chunk.CopyTo(expected, offset); // acknowledged and flushed: must survive
                    }
                    catch (IOException e)
                    {
                        error = e;
                    }
                    offset += chunk.Length;
                }
                Assert.NotNull(error);
                Assert.Contains("No space left", error!.Message);
                Assert.Contains(log, error.Message);
            }
            env.QemuCheckClean(log);
            byte[] after = env.QemuRaw(log);
            int flushedEnd = 0;
            while (flushedEnd < after.Length && after[flushedEnd] == expected[flushedEnd]) flushedEnd++;
            Assert.True(after.AsSpan().SequenceEqual(expected), $"differs at byte {flushedEnd}");

            env.Tool("mount", $"-o remount,ro \"{mount}\"");
            var ro = Assert.Throws<IOException>(() => WritableGeneration.OpenLog(log));
            Assert.Contains(log, ro.Message);
        }
        finally
        {
            CowEnvironment.Run("umount", $"-l \"{mount}\"");
        }
    }

    [CowToolsFact]
    public void Recovery_reconciles_primary_and_redundant_tables_and_drops_the_orphan_tail()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        string log = env.PathOf("rec.vmdk");
        using (var chain = VmdkChain.Open(c))
        using (var device = RedoLog.OpenOrCreateFor(chain, 1, log, options: new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero }))
            device.Write(Enumerable.Repeat((byte)0xEE, 300_000).ToArray(), 0);
        byte[] expected = env.QemuRaw(log);
        long length = new FileInfo(log).Length;
        using (var f = new FileStream(log, FileMode.Open, FileAccess.ReadWrite))
        {
            var header = new byte[512];
            f.ReadExactly(header);
            long rgd = BitConverter.ToInt64(header, 0x30);
            f.Position = rgd * 512;
            var rgdEntry = new byte[4];
            f.ReadExactly(rgdEntry);
            f.Position = BitConverter.ToUInt32(rgdEntry) * 512L;
            f.Write(new byte[8]); // redundant GTEs of grains 0 and 1 lost (as if the crash hit between the copies)
            f.Position = 0x48;
            f.WriteByte(1); // uncleanShutdown
            f.Position = length;
            f.Write(new byte[200_000]); // an orphan grain nobody references
        }
        using (var reopened = RedoLog.Open(log, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero }))
        {
            Assert.Contains(reopened.Repairs, r => r.Contains("differed between the primary and redundant"));
            Assert.Contains(reopened.Repairs, r => r.Contains("orphan"));
        }
        Assert.Equal(length, new FileInfo(log).Length);
        Assert.Equal(0, CowEngineTests.ReadByte(log, 0x48));
        env.QemuCheckClean(log);
        Assert.True(env.QemuRaw(log).AsSpan().SequenceEqual(expected));
    }
}
