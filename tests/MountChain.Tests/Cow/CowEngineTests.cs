using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Core.Errors;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cow;

/// <summary>The copy-on-write engine against a shadow raw image, qemu as the oracle.</summary>
public sealed class CowEngineTests
{
    private static readonly RedoLogOptions NoTimer = new() { MetadataFlushInterval = TimeSpan.Zero };

    [CowToolsFact]
    public void Random_writes_equal_a_shadow_file_after_every_step_after_reopen_and_through_qemu()
    {
        using var env = new CowEnvironment();
        var (b, c) = env.QemuChain();
        string hashes = CowEnvironment.Sha(b) + CowEnvironment.Sha(c);
        byte[] shadow = env.QemuRaw(c);
        string log = env.PathOf("fix.vmdk");
        var random = new Random(1234);
        using (var chain = VmdkChain.Open(c))
        using (var device = RedoLog.OpenOrCreateFor(chain, 1, log, options: NoTimer))
        {
            for (int step = 0; step < 60; step++)
            {
                // Sizes 1 B .. 8 MiB, mostly small, unaligned, overlapping earlier writes.
                int length = random.Next(4) switch
                {
                    0 => random.Next(1, 513),
                    1 => random.Next(1, 70_000),
                    2 => random.Next(1, 300_000),
                    _ => random.Next(1, 8 << 20),
                };
                long offset = random.NextInt64(0, shadow.Length - length + 1);
                if (step % 9 == 8)
                {
                    device.WriteZeroes(offset, length);
                    Array.Clear(shadow, (int)offset, length);
                }
                else
                {
                    var data = new byte[length];
                    random.NextBytes(data);
                    device.Write(data, offset);
                    data.CopyTo(shadow, offset);
                }
                if (step % 7 == 3) device.Flush();
                AssertRange(device, shadow, Math.Max(0, offset - 70_000), Math.Min(shadow.Length, offset + length + 70_000));
                if (step % 20 == 19) AssertRange(device, shadow, 0, shadow.Length);
            }
            var extents = new List<BlockExtent>();
            device.GetExtents(0, device.Length, extents);
            Assert.Contains(extents, e => e.Generation == 2 && e.Kind == ExtentKind.Data);
            Assert.Contains(extents, e => e.Generation == 1);
            Assert.Equal(device.Length, extents.Sum(e => e.Length));
        }
        using (var reopened = WritableGeneration.OpenLog(log, NoTimer))
        {
            Assert.Empty(reopened.Log.Repairs);
            AssertRange(reopened, shadow, 0, shadow.Length);
        }
        env.QemuCheckClean(log);
        Assert.True(env.QemuRaw(log).AsSpan().SequenceEqual(shadow), "qemu-img convert of the log differs from the shadow");
        Assert.Equal(hashes, CowEnvironment.Sha(b) + CowEnvironment.Sha(c));
    }

    private static void AssertRange(IBlockDevice device, byte[] shadow, long from, long to)
    {
        var buffer = new byte[to - from];
        device.Read(buffer, from);
        int mismatch = buffer.AsSpan().CommonPrefixLength(shadow.AsSpan((int)from, buffer.Length));
        Assert.True(mismatch == buffer.Length, $"first difference at byte {from + mismatch}");
    }

    [CowToolsFact]
    public void Concurrent_writers_and_readers_see_their_own_data()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        byte[] shadow = env.QemuRaw(c);
        using var chain = VmdkChain.Open(c);
        using var device = RedoLog.OpenOrCreateFor(chain, 1, env.PathOf("par.vmdk"), options: NoTimer);
        // Each thread owns a 4 MiB stripe; writes straddle grains so allocations race on stripes and tables.
        Parallel.For(0, 8, t =>
        {
            var random = new Random(t);
            long start = t * (4L << 20) + 12345;
            for (int i = 0; i < 200; i++)
            {
                int length = random.Next(1, 100_000);
                long offset = start + random.NextInt64(0, (4L << 20) - 100_000);
                var data = new byte[length];
                random.NextBytes(data);
                device.Write(data, offset);
                lock (shadow) data.CopyTo(shadow, offset);
                var back = new byte[length];
                device.Read(back, offset);
                Assert.True(back.AsSpan().SequenceEqual(data));
                if (i % 50 == 0) device.Flush();
            }
        });
        AssertRange(device, shadow, 0, shadow.Length);
    }

    [CowToolsFact]
    public void Two_children_of_one_generation_are_independent()
    {
        using var env = new CowEnvironment();
        var (b, c) = env.QemuChain();
        string before = CowEnvironment.Sha(b) + CowEnvironment.Sha(c);
        using (var chain = VmdkChain.Open(c))
        {
            using var l1 = RedoLogOperations.CreateChild(chain, 0, env.PathOf("left.vmdk"), NoTimer);
            using var r1 = RedoLogOperations.CreateChild(chain, 0, env.PathOf("right.vmdk"), NoTimer);
        }
        var a = Enumerable.Repeat((byte)0xAA, 100_000).ToArray();
        var z = Enumerable.Repeat((byte)0xBB, 100_000).ToArray();
        using (var d = WritableGeneration.OpenLog(env.PathOf("left.vmdk"), NoTimer)) d.Write(a, 5000);
        using (var d = WritableGeneration.OpenLog(env.PathOf("right.vmdk"), NoTimer)) d.Write(z, 5000);
        var left = env.QemuRaw(env.PathOf("left.vmdk"));
        var right = env.QemuRaw(env.PathOf("right.vmdk"));
        var generation0 = env.QemuRaw(b);
        Assert.True(left.AsSpan(5000, a.Length).SequenceEqual(a));
        Assert.True(right.AsSpan(5000, z.Length).SequenceEqual(z));
        // Outside the written range both still read generation 0, not generation 1.
        Assert.True(left.AsSpan(200_000).SequenceEqual(generation0.AsSpan(200_000)));
        Assert.True(right.AsSpan(200_000).SequenceEqual(generation0.AsSpan(200_000)));
        Assert.Equal(before, CowEnvironment.Sha(b) + CowEnvironment.Sha(c));
    }

    [CowToolsFact]
    public void Attach_refuses_a_log_made_on_other_content_or_capacity()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        env.Tool("qemu-img", "create -f vmdk other.vmdk 32M");
        env.Tool("qemu-img", "create -f vmdk -b other.vmdk -F vmdk small.vmdk");
        using var chain = VmdkChain.Open(c);
        using (var log = RedoLogOperations.CreateChild(chain, 1, env.PathOf("on1.vmdk"), NoTimer)) { }
        using (var log = RedoLog.Open(env.PathOf("on1.vmdk"), NoTimer))
        {
            var e = Assert.Throws<ChainMismatchException>(() => WritableGeneration.Attach(chain, 0, log));
            Assert.Contains("parentCID", e.Message);
        }
        using (var log = RedoLog.Open(env.PathOf("small.vmdk"), NoTimer))
        {
            var e = Assert.Throws<ChainMismatchException>(() => WritableGeneration.Attach(chain, 1, log));
            Assert.Contains("capacity", e.Message);
        }
        Assert.Throws<OperationRefusedException>(() => RedoLog.Open(env.PathOf("base.vmdk"), NoTimer));
    }

    [CowToolsFact]
    public void A_log_made_by_qemu_img_can_be_attached_and_written()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        env.Tool("qemu-img", "create -f vmdk -b c1.vmdk -F vmdk q.vmdk");
        byte[] shadow = env.QemuRaw(c);
        var data = new byte[300_001];
        new Random(5).NextBytes(data);
        using (var chain = VmdkChain.Open(c))
        using (var device = RedoLog.OpenOrCreateFor(chain, 1, env.PathOf("q.vmdk"), options: NoTimer))
        {
            device.Write(data, 777);
            device.WriteZeroes(10 << 20, 5 << 20);
        }
        data.CopyTo(shadow, 777);
        Array.Clear(shadow, 10 << 20, 5 << 20);
        env.QemuCheckClean(env.PathOf("q.vmdk"));
        Assert.True(env.QemuRaw(env.PathOf("q.vmdk")).AsSpan().SequenceEqual(shadow));
    }

    [CowToolsFact]
    public void First_write_of_a_session_gives_a_new_CID_and_close_clears_uncleanShutdown()
    {
        using var env = new CowEnvironment();
        var (_, c) = env.QemuChain();
        uint parentCid;
        uint created;
        using (var chain = VmdkChain.Open(c))
        using (var log = RedoLogOperations.CreateChild(chain, 1, env.PathOf("s.vmdk"), NoTimer))
        {
            parentCid = chain.Links[1].Cid;
            Assert.Equal(parentCid, log.ParentCid);
            created = log.Cid;
        }
        using (var d = WritableGeneration.OpenLog(env.PathOf("s.vmdk"), NoTimer))
        {
            Assert.Equal(created, d.Log.Cid);
            d.Write(new byte[] { 1 }, 0);
            Assert.NotEqual(created, d.Log.Cid);
            Assert.Equal(1, ReadByte(env.PathOf("s.vmdk"), 0x48));
        }
        Assert.Equal(0, ReadByte(env.PathOf("s.vmdk"), 0x48));
        using var reopened = VmdkChain.Open(env.PathOf("s.vmdk"));
        Assert.NotEqual(created, reopened.Links[2].Cid);
        Assert.Equal(parentCid, reopened.Links[2].ParentCid);
        Assert.EndsWith(reopened.Links[2].Cid.ToString("x8"), reopened.Links[2].Descriptor.Ddb["ddb.longContentID"]);
    }

    internal static byte ReadByte(string file, long offset)
    {
        using var s = File.OpenRead(file);
        s.Position = offset;
        return (byte)s.ReadByte();
    }
}
