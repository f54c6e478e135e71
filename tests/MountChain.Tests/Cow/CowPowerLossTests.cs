using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Core.Formats;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MountChain.Tests.Cow;

/// <summary>
/// The one-sync flush (format doc §2.10) under simulated power cuts at every kind of point of the
/// flush path: after recovery the log checks clean, every acknowledged flush reads back, and no
/// byte reads as anything but its flushed value or a value an unflushed write put there; in
/// particular never as zeros over the parent's data when a partial grain's data did not land.
/// MOUNTCHAIN_CRASH_POINTS sets the number of cuts (CI default 120).
/// </summary>
public sealed class CowPowerLossTests(ITestOutputHelper output)
{
    private const long Capacity = 8 << 20;

    [CowToolsFact]
    public void A_flush_after_a_new_grain_costs_one_sync_and_a_qemu_made_child_keeps_two()
    {
        using var env = new CowEnvironment();
        string b = env.PathOf("base.vmdk");
        env.Tool("qemu-img", $"create -f vmdk \"{b}\" 8M");
        int syncs = 0;
        var options = new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero, Fault = (io, _, _) => { if (io == FileOperation.Sync) syncs++; return null; } };
        using (var chain = VmdkChain.Open(b))
        using (var device = RedoLog.OpenOrCreateFor(chain, 0, env.PathOf("ours.vmdk"), options: options))
        {
            Assert.True(device.Log.Extent.HasIntentJournal);
            device.Write(new byte[4096], 0); // session start: one sync
            device.Flush();
            syncs = 0;
            for (int i = 1; i <= 10; i++)
            {
                device.Write(Enumerable.Repeat((byte)i, 4096).ToArray(), i * 65536L + 512);
                device.Flush();
            }
            Assert.Equal(10, syncs);
        }
        env.QemuCheckClean(env.PathOf("ours.vmdk"));

        // A file without our journal (qemu made it) takes the two-sync path: data, then tables.
        string q = env.PathOf("qemu-child.vmdk");
        env.Tool("qemu-img", $"create -f vmdk -b base.vmdk -F vmdk \"{q}\"");
        using (var device = WritableGeneration.OpenLog(q, options))
        {
            Assert.False(device.Log.Extent.HasIntentJournal);
            device.Write(new byte[4096], 0);
            device.Flush();
            syncs = 0;
            device.Write(new byte[4096], 65536 + 512);
            device.Flush();
            Assert.Equal(2, syncs);
        }
        env.QemuCheckClean(q);
    }

    [CowToolsFact]
    public void Power_cuts_anywhere_in_the_flush_path_keep_flushed_writes_and_never_expose_zeros_over_parent_data()
    {
        int points = int.TryParse(Environment.GetEnvironmentVariable("MOUNTCHAIN_CRASH_POINTS"), out int p) ? p : 120;
        using var env = new CowEnvironment();
        string b = env.PathOf("base.vmdk");
        env.Tool("qemu-img", $"create -f vmdk \"{b}\" {Capacity}");
        env.Tool("qemu-io", $"-f vmdk -c \"write -P 0x5a 0 {Capacity}\" \"{b}\"");
        byte[] parent = env.QemuRaw(b);
        var random = new Random(2026);
        int cuts = 0, replayed = 0, notLanded = 0, acknowledged = 0;
        for (int iteration = 0; iteration < points; iteration++)
        {
            string log = env.PathOf($"cut{iteration}.vmdk");
            using (var chain = VmdkChain.Open(b))
            using (RedoLogOperations.CreateChild(chain, 0, log)) { }
            var expected = (byte[])parent.Clone();
            var unflushed = new List<(long Offset, byte[] Data)>();
            using (var power = new PowerLossFile(log, cutAt: random.Next(3, 260)))
            {
                var options = new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero, Fault = power.Hook };
                var device = WritableGeneration.OpenLog(log, options);
                power.Arm();
                try
                {
                    for (int step = 0; step < 400 && !power.PowerCut; step++)
                    {
                        var (offset, data) = NextWrite(random, step);
                        unflushed.Add((offset, data));
                        device.Write(data, offset);
                        if (random.Next(3) == 0) continue;
                        device.Flush();
                        foreach (var (o, d) in unflushed) d.CopyTo(expected, o);
                        unflushed.Clear();
                        acknowledged++;
                    }
                }
                catch (IOException) when (power.PowerCut)
                {
                }
                try { device.Dispose(); } catch (IOException) when (power.PowerCut) { }
                if (!power.PowerCut)
                {
                    // The cut never came: the close made everything durable.
                    foreach (var (o, d) in unflushed) d.CopyTo(expected, o);
                    unflushed.Clear();
                }
                else cuts++;
                power.WriteCrashImage(random);
            }

            env.QemuCheckClean(log); // the tables alone never name data that did not land
            using (var recovered = RedoLog.Open(log, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero }))
            {
                if (recovered.Repairs.Any(r => r.Contains("intent journal"))) replayed++;
                if (recovered.Repairs.Any(r => r.Contains("had not fully reached"))) notLanded++;
            }
            env.QemuCheckClean(log);
            byte[] actual;
            using (var chain = VmdkChain.Open(log))
            using (var device = chain.OpenGeneration(1))
            {
                actual = new byte[device.Length];
                device.Read(actual, 0);
            }
            AssertOnlyFlushedOrUnflushedValues(expected, unflushed, actual, iteration);
            if (iteration % 20 == 0) Assert.True(env.QemuRaw(log).AsSpan().SequenceEqual(actual), $"iteration {iteration}: qemu reads the recovered log differently");
            File.Delete(log);
        }
        output.WriteLine($"{cuts} power cuts in {points} runs, {acknowledged} acknowledged flushes; recovery restored journal entries {replayed} times and found unlanded grains {notLanded} times");
        Assert.True(cuts >= points * 3 / 4, $"only {cuts} of {points} runs were cut");
        Assert.True(replayed > 0, "no crash ever needed the intent journal: the test does not reach the one-sync window");
    }

    [CowToolsFact]
    public void Hostile_intent_records_are_refused_and_never_name_metadata_shared_or_missing_sectors()
    {
        using var env = new CowEnvironment();
        string b = env.PathOf("base.vmdk"), log = env.PathOf("hostile.vmdk");
        env.Tool("qemu-img", $"create -f vmdk \"{b}\" {Capacity}");
        env.Tool("qemu-io", $"-f vmdk -c \"write -P 0x5a 0 {Capacity}\" \"{b}\"");
        byte[] expected = env.QemuRaw(b);
        using (var chain = VmdkChain.Open(b))
        using (RedoLogOperations.CreateChild(chain, 0, log)) { }
        bool dead = false;
        var data = Enumerable.Repeat((byte)0xc3, 4096).ToArray();
        uint sector;
        var device = WritableGeneration.OpenLog(log, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero, Fault = (_, _, _) => dead ? new IOException("gone") : null });
        device.Write(data, 3 * 65536 + 512);
        device.Flush(); // one record, no table entry yet
        sector = device.Log.Extent.Entry(3);
        dead = true;
        try { device.Dispose(); } catch (IOException) { }
        data.CopyTo(expected, 3 * 65536 + 512);

        // Rewrite the journal as an attacker would: valid CRCs, hostile entries.
        using (var file = new WritableFile(log, create: false))
        {
            var header = SparseExtentHeader.Parse(ReadSector(file), log);
            var journal = IntentJournal.Find(file, (long)header.GdOffset + 1 + 4 * ((long)header.GrainTableCount), (long)header.OverHead);
            Assert.NotNull(journal);
            Assert.NotEqual(0UL, journal.Nonce);
            journal.Append([new(3, sector, 0), new(0xFFFFFFF0, sector, 0), new(5, 10, 0), new(6, 0xFFFFFF00, 0)]);
            journal.Append([new(7, sector, 0)]); // newest: checked against its CRC (wrong) and shares grain 3's sectors
        }
        using (var recovered = RedoLog.Open(log, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero }))
        {
            Assert.Contains(recovered.Repairs, r => r.Contains("restored from the intent journal"));
            Assert.Contains(recovered.Repairs, r => r.Contains("3 intent journal entries were invalid"));
            Assert.Equal(sector, recovered.Extent.Entry(3));
            Assert.Equal(0u, recovered.Extent.Entry(7));
        }
        env.QemuCheckClean(log);
        Assert.True(env.QemuRaw(log).AsSpan().SequenceEqual(expected), "the recovered log does not read as the parent plus the one flushed write");
    }

    [CowToolsFact]
    public void A_read_only_open_of_a_crashed_log_shows_every_flushed_write_without_writing_the_file()
    {
        using var env = new CowEnvironment();
        string b = env.PathOf("base.vmdk"), log = env.PathOf("crashed.vmdk");
        env.Tool("qemu-img", $"create -f vmdk \"{b}\" {Capacity}");
        env.Tool("qemu-io", $"-f vmdk -c \"write -P 0x5a 0 {Capacity}\" \"{b}\"");
        byte[] expected = env.QemuRaw(b);
        using (var chain = VmdkChain.Open(b))
        using (RedoLogOperations.CreateChild(chain, 0, log)) { }
        bool dead = false;
        var device = WritableGeneration.OpenLog(log, new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero, Fault = (_, _, _) => dead ? new IOException("killed") : null });
        var random = new Random(13);
        // Partial-grain writes into new grains over parent data; the last flush covers three grains,
        // whose entries exist only in the journal when the writer dies.
        for (int i = 0; i < 6; i++)
        {
            var data = new byte[random.Next(512, 20_000)];
            random.NextBytes(data);
            long offset = (2 + 3 * i) * 65536L + random.Next(0, 30_000);
            device.Write(data, offset);
            data.CopyTo(expected, offset);
            if (i < 3 || i == 5) device.Flush();
        }
        dead = true; // the process dies here: nothing more reaches the file
        try { device.Dispose(); } catch (IOException) { }
        string before = CowEnvironment.Sha(log);
        env.QemuCheckClean(log); // the tables alone are consistent (without the last flush)
        // qemu reads the tables alone: they lack the last flush, which only the journal holds.
        Assert.False(env.QemuRaw(log).AsSpan().SequenceEqual(expected), "the tables already hold every flush: the test does not reach the journal");

        string hash = env.Mountchain($"hash \"{log}\"") is var (exit, stdout, stderr) && exit == 0
            ? stdout.Split(' ', 2)[0].Trim() : throw new Xunit.Sdk.XunitException($"hash exited {exit}: {stderr}");
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(expected)), hash, ignoreCase: true);
        string raw = env.PathOf("cat.raw");
        var cat = env.Mountchain($"cat \"{log}\" --output \"{raw}\"");
        Assert.True(cat.Exit == 0, cat.Err);
        Assert.True(File.ReadAllBytes(raw).AsSpan().SequenceEqual(expected), "cat of the crashed log differs from the flushed writes over the parent");
        using (var chain = VmdkChain.Open(log))
            Assert.Contains(chain.Links[^1].Warnings, w => w.Contains("intent journal"));
        Assert.Equal(before, CowEnvironment.Sha(log)); // read-only: the crashed file is untouched
    }

    private static byte[] ReadSector(WritableFile file)
    {
        var sector = new byte[512];
        file.Read(sector, 0);
        return sector;
    }

    /// <summary>Mostly partial-grain writes at random places (new grains, grains just recorded, settled ones), sometimes whole grains.</summary>
    private static (long Offset, byte[] Data) NextWrite(Random random, int step)
    {
        int length = random.Next(4) == 0 ? 65536 * random.Next(1, 4) : random.Next(1, 20_000);
        long offset = random.Next(3) == 0
            ? random.NextInt64(0, Capacity / 65536 - 3) * 65536
            : random.NextInt64(0, Capacity - length);
        var data = new byte[length];
        random.NextBytes(data);
        return (offset, data);
    }

    internal static void AssertOnlyFlushedOrUnflushedValues(byte[] expected, List<(long Offset, byte[] Data)> unflushed, byte[] actual, int iteration)
    {
        Assert.Equal(expected.Length, actual.Length);
        int pos = 0;
        while (pos < actual.Length)
        {
            pos += actual.AsSpan(pos).CommonPrefixLength(expected.AsSpan(pos));
            if (pos >= actual.Length) break;
            bool explained = unflushed.Any(u => pos >= u.Offset && pos < u.Offset + u.Data.Length && u.Data[pos - u.Offset] == actual[pos]);
            Assert.True(explained, $"iteration {iteration}: byte {pos} reads {actual[pos]:x2}; flushed value {expected[pos]:x2}, and no unflushed write put that there");
            pos++;
        }
    }
}
