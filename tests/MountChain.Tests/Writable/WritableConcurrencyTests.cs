using System.Buffers.Binary;
using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;
using MountChain.Tests.Nbd;
using static MountChain.Tests.Writable.WritableKit;

namespace MountChain.Tests.Writable;

/// <summary>
/// One writer and several readers on separate NBD connections to one writable export (the server
/// advertises multi-conn). Blocks are 20 KiB, so writes cover partial grains and readers of a
/// neighbouring block share a grain that is being copied-on-write.
/// </summary>
public sealed class WritableConcurrencyTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;
    private const int DiskSize = 16 * MiB;
    private const int BlockSize = 20 << 10;
    private const int Blocks = DiskSize / BlockSize;
    private const int Readers = 3;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(3);

    // NBD commands and the simple-reply mode (proto.md "Request types"); no structured replies are negotiated.
    private const ushort CmdRead = 0, CmdWrite = 1, CmdDisconnect = 2, CmdFlush = 3, CmdWriteZeroes = 6;

    [NbdToolsFact]
    public void Readers_never_see_a_mismatch_while_one_writer_rewrites_blocks_through_a_writable_export()
    {
        using var scratch = new Scratch();
        var (baseVmdk, child) = RandomChain(scratch, DiskSize, seed: 71);
        var parents = Hashes(baseVmdk, child);
        string generation1 = scratch["generation1.raw"];
        Tool.Check("qemu-img", "convert", "-O", "raw", child, generation1);
        var model = new BlockVersions(File.ReadAllBytes(generation1));
        string edit = scratch["edit.vmdk"];

        using (var server = ServeProcess.Start(child, "--write", "--redo", edit, "--listen", "127.0.0.1:0"))
        {
            using var stop = new CancellationTokenSource(Duration);
            var writer = Task.Run(() => Write(server.Port, model, stop.Token));
            var readers = Enumerable.Range(0, Readers).Select(r => Task.Run(() => Read(server.Port, model, 100 + r, stop.Token))).ToArray();
            Task.WaitAll([writer, .. readers], TimeSpan.FromSeconds(60));
            int writes = writer.Result, verified = readers.Sum(r => r.Result);
            output.WriteLine($"{writes} writes, {verified} verified block reads by {Readers} readers in {Duration.TotalSeconds} s");
            Assert.True(writes >= 50, $"only {writes} writes in {Duration}");
            Assert.True(verified >= 100, $"only {verified} reads could be verified in {Duration}");
            Assert.Equal(0, server.Signal("TERM"));
        }

        AssertQemuCheckClean(edit);
        string fromLog = scratch["from-log.raw"];
        Tool.Check("qemu-img", "convert", "-O", "raw", edit, fromLog);
        byte[] final = File.ReadAllBytes(fromLog);
        for (int b = 0; b < Blocks; b++)
            Assert.True(final.AsSpan(b * BlockSize, BlockSize).SequenceEqual(model.Content(b, model.Committed(b))), $"block {b} of the closed log is not its last write");
        AssertUnchanged(parents);
    }

    /// <summary>Rewrites random blocks (data, sometimes WRITE_ZEROES), announcing each version before sending it.</summary>
    private static int Write(int port, BlockVersions model, CancellationToken stop)
    {
        using var client = Connect(port);
        var random = new Random(72);
        int writes = 0;
        ulong cookie = 1;
        while (!stop.IsCancellationRequested)
        {
            int b = random.Next(Blocks);
            bool zeroes = random.Next(8) == 0;
            int version = model.Announce(b, zeroes);
            if (zeroes) client.SendRequest(CmdWriteZeroes, cookie, (ulong)b * BlockSize, BlockSize);
            else
            {
                // Header and payload in one send: two small sends would wait on Nagle and delayed ACKs.
                client.Send(WriteRequest(cookie, (long)b * BlockSize, model.Content(b, version)));
            }
            var (error, replied) = client.ReadSimpleReply();
            Assert.Equal(cookie++, replied);
            Assert.True(error == 0, $"write of block {b} failed with NBD error {error}");
            model.Commit(b, version);
            writes++;
            if (writes % 64 == 0)
            {
                client.SendRequest(CmdFlush, cookie, 0, 0);
                Assert.Equal((0u, cookie++), client.ReadSimpleReply());
            }
        }
        client.SendRequest(CmdFlush, cookie, 0, 0);
        Assert.Equal((0u, cookie++), client.ReadSimpleReply());
        client.SendRequest(CmdDisconnect, cookie, 0, 0);
        return writes;
    }

    /// <summary>
    /// Reads one or two adjacent blocks; a block is checked only if no write to it was announced
    /// from just before the read until just after it, so its content is exactly known.
    /// </summary>
    private static int Read(int port, BlockVersions model, int seed, CancellationToken stop)
    {
        using var client = Connect(port);
        var random = new Random(seed);
        int verified = 0;
        ulong cookie = 1;
        while (!stop.IsCancellationRequested)
        {
            int count = random.Next(1, 3);
            int first = random.Next(Blocks - count + 1);
            var before = Enumerable.Range(first, count).Select(b => (Committed: model.Committed(b), Announced: model.Announced(b))).ToArray();
            client.SendRequest(CmdRead, cookie, (ulong)first * BlockSize, (uint)(count * BlockSize));
            var (error, replied) = client.ReadSimpleReply();
            Assert.Equal(cookie++, replied);
            Assert.True(error == 0, $"read of blocks {first}+{count} failed with NBD error {error}");
            byte[] data = client.ReadExact(count * BlockSize);
            for (int i = 0; i < count; i++)
            {
                int b = first + i;
                if (before[i].Committed != before[i].Announced || model.Announced(b) != before[i].Committed) continue; // raced a write
                var expected = model.Content(b, before[i].Committed);
                int same = data.AsSpan(i * BlockSize, BlockSize).CommonPrefixLength(expected);
                Assert.True(same == BlockSize, $"block {b} (version {before[i].Committed}) differs at byte {same} of {BlockSize}");
                verified++;
            }
        }
        client.SendRequest(CmdDisconnect, cookie, 0, 0);
        return verified;
    }

    /// <summary>NBD_CMD_WRITE request (proto.md "Request message": magic, flags, type, cookie, offset, length) followed by its data.</summary>
    private static byte[] WriteRequest(ulong cookie, long offset, byte[] data)
    {
        var request = new byte[28 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(request, 0x25609513);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), CmdWrite);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(8), cookie);
        BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(16), (ulong)offset);
        BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(24), (uint)data.Length);
        data.CopyTo(request, 28);
        return request;
    }

    private static RawNbdClient Connect(int port)
    {
        var client = new RawNbdClient(port);
        client.Handshake(structured: false);
        Assert.Equal(DiskSize, client.ExportSize);
        return client;
    }

    /// <summary>
    /// What each block holds: version 0 is generation 1's bytes; version v &gt; 0 is seeded random
    /// bytes or zeros. Announced is raised before a write is sent, Committed after its reply.
    /// </summary>
    private sealed class BlockVersions(byte[] generation1)
    {
        private readonly int[] _announced = new int[Blocks];
        private readonly int[] _committed = new int[Blocks];
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int), bool> _zeroVersions = new();

        public int Announced(int block) => Volatile.Read(ref _announced[block]);
        public int Committed(int block) => Volatile.Read(ref _committed[block]);

        public int Announce(int block, bool zeroes)
        {
            int version = _committed[block] + 1;
            if (zeroes) _zeroVersions[(block, version)] = true;
            Volatile.Write(ref _announced[block], version);
            return version;
        }

        public void Commit(int block, int version) => Volatile.Write(ref _committed[block], version);

        public byte[] Content(int block, int version)
        {
            if (version == 0) return generation1.AsSpan(block * BlockSize, BlockSize).ToArray();
            var bytes = new byte[BlockSize];
            if (!_zeroVersions.ContainsKey((block, version))) new Random(block * 7919 + version * 104_729).NextBytes(bytes);
            return bytes;
        }
    }
}
