using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using MountChain.Mounting.Lifecycle;
using MountChain.Tests.Fuse;
using MountChain.Tests.Infrastructure;
using MountChain.Tests.Nbd;
using Xunit.Abstractions;
using static MountChain.Tests.Writable.WritableKit;

namespace MountChain.Tests.Writable;

/// <summary>
/// One writer and several readers, each with its own connection (NBD; the server advertises
/// multi-conn) or its own open file (FUSE disk.raw), on one writable generation. Blocks are 20 KiB,
/// so writes cover partial grains and readers of a neighbouring block share a grain that is being
/// copied-on-write. A read is checked when no write to its block was under way, so its content is
/// exactly known; at the end the closed log must hold every block's last write.
/// </summary>
public sealed class WritableConcurrencyTests(ITestOutputHelper output)
{
    private const int MiB = 1 << 20;
    private const int DiskSize = 16 * MiB;
    private const int BlockSize = 20 << 10;
    private const int Blocks = DiskSize / BlockSize;
    private const int Readers = 3;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(3);

    [NbdToolsFact]
    public void Nbd_readers_never_see_a_mismatch_while_one_writer_rewrites_blocks_of_a_writable_export()
    {
        Run((child, edit, scratch, load) =>
        {
            using var server = ServeProcess.Start(child, "--write", "--redo", edit, "--listen", "127.0.0.1:0");
            load(() => new NbdPort(server.Port));
            Assert.Equal(0, server.Signal("TERM"));
        });
    }

    [RequiresFuseFact("qemu-img", "qemu-io")]
    public void Fuse_readers_never_see_a_mismatch_while_one_writer_rewrites_blocks_of_disk_raw()
    {
        Run((child, edit, scratch, load) =>
        {
            string mp = scratch.Dir("mnt");
            try
            {
                var mounted = MountChainCli.Run("mount", child, mp, "--write", "--redo", edit);
                Assert.True(mounted.ExitCode == 0, mounted.Stderr);
                load(() => new FilePort(Path.Combine(mp, "disk.raw")));
                var unmounted = MountChainCli.Run("unmount", mp);
                Assert.True(unmounted.ExitCode == 0, unmounted.Stderr);
                Assert.Null(MountTable.Find(mp));
            }
            finally { MountChainCli.Run("unmount", "--lazy", mp); }
        });
    }

    /// <summary>
    /// Builds the chain, lets <paramref name="serve"/> start a writable front-end and run the load
    /// through ports it opens, then checks the closed log against the model.
    /// </summary>
    private void Run(Action<string, string, TempDirectory, Action<Func<IDiskPort>>> serve)
    {
        using var scratch = new TempDirectory("mc-fuse");
        var (baseVmdk, child) = RandomChain(scratch, DiskSize, seed: 71);
        var parents = Hashes(baseVmdk, child);
        string generation1 = scratch.File("generation1.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", child, generation1);
        var model = new BlockVersions(File.ReadAllBytes(generation1));
        string edit = scratch.File("edit.vmdk");

        serve(child, edit, scratch, open =>
        {
            using var stop = new CancellationTokenSource(Duration);
            var writer = Task.Run(() => Write(open, model, stop.Token));
            var readers = Enumerable.Range(0, Readers).Select(r => Task.Run(() => Read(open, model, 100 + r, stop.Token))).ToArray();
            Assert.True(Task.WaitAll([writer, .. readers], TimeSpan.FromSeconds(60)), "the load did not finish");
            int writes = writer.Result, verified = readers.Sum(r => r.Result);
            output.WriteLine($"{writes} writes, {verified} verified block reads by {Readers} readers in {Duration.TotalSeconds} s");
            Assert.True(writes >= 50, $"only {writes} writes in {Duration}");
            Assert.True(verified >= 100, $"only {verified} reads could be verified in {Duration}");
        });

        Assert.False(UncleanShutdown(edit), "the log was left marked uncleanShutdown");
        AssertQemuCheckClean(edit);
        string fromLog = scratch.File("from-log.raw");
        ProcessRunner.Check("qemu-img", "convert", "-O", "raw", edit, fromLog);
        byte[] final = File.ReadAllBytes(fromLog);
        for (int b = 0; b < Blocks; b++)
            Assert.True(final.AsSpan(b * BlockSize, BlockSize).SequenceEqual(model.Content(b, model.Committed(b))), $"block {b} of the closed log is not its last write");
        AssertUnchanged(parents);
    }

    /// <summary>Rewrites random blocks (data, sometimes zeros), announcing each version before sending it.</summary>
    private static int Write(Func<IDiskPort> open, BlockVersions model, CancellationToken stop)
    {
        using var port = open();
        var random = new Random(72);
        int writes = 0;
        while (!stop.IsCancellationRequested)
        {
            int b = random.Next(Blocks);
            bool zeroes = random.Next(8) == 0;
            int version = model.Announce(b, zeroes);
            if (zeroes) port.WriteZeroes((long)b * BlockSize, BlockSize);
            else port.Write((long)b * BlockSize, model.Content(b, version));
            model.Commit(b, version);
            if (++writes % 64 == 0) port.Flush();
        }
        port.Flush();
        return writes;
    }

    /// <summary>
    /// Reads one or two adjacent blocks; a block is checked only if no write to it was announced
    /// from just before the read until just after it.
    /// </summary>
    private static int Read(Func<IDiskPort> open, BlockVersions model, int seed, CancellationToken stop)
    {
        using var port = open();
        var random = new Random(seed);
        int verified = 0;
        while (!stop.IsCancellationRequested)
        {
            int count = random.Next(1, 3);
            int first = random.Next(Blocks - count + 1);
            var before = Enumerable.Range(first, count).Select(b => (Committed: model.Committed(b), Announced: model.Announced(b))).ToArray();
            byte[] data = port.Read((long)first * BlockSize, count * BlockSize);
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
        return verified;
    }

    /// <summary>One client's way to the disk.</summary>
    private interface IDiskPort : IDisposable
    {
        void Write(long offset, byte[] data);
        void WriteZeroes(long offset, int length);
        byte[] Read(long offset, int length);
        void Flush();
    }

    /// <summary>An NBD connection in simple-reply mode (proto.md "Request message", "Simple reply message").</summary>
    private sealed class NbdPort : IDiskPort
    {
        private const ushort CmdRead = 0, CmdWrite = 1, CmdDisconnect = 2, CmdFlush = 3, CmdWriteZeroes = 6;
        private readonly RawNbdClient _client;
        private ulong _cookie;

        public NbdPort(int port)
        {
            _client = new RawNbdClient(port);
            _client.Handshake(structured: false);
            Assert.Equal(DiskSize, _client.ExportSize);
        }

        public void Write(long offset, byte[] data)
        {
            // Header and payload in one send: two small sends would wait on Nagle and delayed ACKs.
            var request = new byte[28 + data.Length];
            BinaryPrimitives.WriteUInt32BigEndian(request, 0x25609513);
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), CmdWrite);
            BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(8), ++_cookie);
            BinaryPrimitives.WriteUInt64BigEndian(request.AsSpan(16), (ulong)offset);
            BinaryPrimitives.WriteUInt32BigEndian(request.AsSpan(24), (uint)data.Length);
            data.CopyTo(request, 28);
            _client.Send(request);
            Reply($"write {offset}+{data.Length}");
        }

        public void WriteZeroes(long offset, int length)
        {
            _client.SendRequest(CmdWriteZeroes, ++_cookie, (ulong)offset, (uint)length);
            Reply($"write-zeroes {offset}+{length}");
        }

        public byte[] Read(long offset, int length)
        {
            _client.SendRequest(CmdRead, ++_cookie, (ulong)offset, (uint)length);
            Reply($"read {offset}+{length}");
            return _client.ReadExact(length);
        }

        public void Flush()
        {
            _client.SendRequest(CmdFlush, ++_cookie, 0, 0);
            Reply("flush");
        }

        private void Reply(string what)
        {
            var (error, cookie) = _client.ReadSimpleReply();
            Assert.Equal(_cookie, cookie);
            Assert.True(error == 0, $"{what} failed with NBD error {error}");
        }

        public void Dispose()
        {
            _client.SendRequest(CmdDisconnect, ++_cookie, 0, 0);
            _client.Dispose();
        }
    }

    /// <summary>An open file (the FUSE disk.raw): positional reads and writes, zeros written as data, fsync.</summary>
    private sealed class FilePort(string path) : IDiskPort
    {
        private readonly SafeFileHandle _handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

        public void Write(long offset, byte[] data) => RandomAccess.Write(_handle, data, offset);
        public void WriteZeroes(long offset, int length) => RandomAccess.Write(_handle, new byte[length], offset);

        public byte[] Read(long offset, int length)
        {
            var data = new byte[length];
            int done = 0;
            while (done < length)
            {
                int n = RandomAccess.Read(_handle, data.AsSpan(done), offset + done);
                Assert.True(n > 0, $"disk.raw ended at {offset + done}");
                done += n;
            }
            return data;
        }

        public void Flush() => RandomAccess.FlushToDisk(_handle);
        public void Dispose() => _handle.Dispose();
    }

    /// <summary>
    /// What each block holds: version 0 is generation 1's bytes; version v &gt; 0 is seeded random
    /// bytes or zeros. Announced is raised before a write is sent, Committed after it returned.
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
