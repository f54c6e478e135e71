using System.Buffers.Binary;
using MountChain.Core.BlockDevices;
using MountChain.Nbd.Server;

namespace MountChain.Tests.Nbd;

/// <summary>Protocol details checked byte by byte with <see cref="RawNbdClient"/> (values from proto.md).</summary>
public sealed class NbdProtocolTests
{
    private const ushort CmdRead = 0, CmdWrite = 1, CmdDisc = 2, CmdBlockStatus = 7;
    private const uint EPerm = 1, EInval = 22;
    private const ushort ChunkOffsetData = 1, ChunkError = 0x8001, ChunkBlockStatus = 5, FlagDone = 1;

    private static MemoryBlockDevice RandomDevice(int size, bool writable = false)
    {
        var data = new byte[size];
        new Random(3).NextBytes(data);
        return new MemoryBlockDevice(data, writable);
    }

    [Fact]
    public async Task A_read_past_the_end_gets_EINVAL_and_the_connection_keeps_working()
    {
        using var device = RandomDevice(1 << 20);
        await using var server = new NbdTestServer(device);
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: true);
        Assert.Equal(1 << 20, client.ExportSize);

        client.SendRequest(CmdRead, cookie: 7, offset: (1 << 20) - 512, length: 1024);
        var error = client.ReadChunk();
        Assert.Equal((FlagDone, ChunkError, 7UL), (error.Flags, error.Type, error.Cookie));
        Assert.Equal(EInval, BinaryPrimitives.ReadUInt32BigEndian(error.Payload));

        client.SendRequest(CmdRead, cookie: 8, offset: 4096, length: 8192);
        var data = client.ReadChunk();
        Assert.Equal((FlagDone, ChunkOffsetData, 8UL), (data.Flags, data.Type, data.Cookie));
        Assert.Equal(4096UL, BinaryPrimitives.ReadUInt64BigEndian(data.Payload));
        var expected = new byte[8192];
        device.Read(expected, 4096);
        Assert.Equal(expected, data.Payload[8..]);
    }

    [Fact]
    public async Task Simple_replies_carry_the_data_or_the_error_when_structured_replies_were_not_negotiated()
    {
        using var device = RandomDevice(1 << 20);
        await using var server = new NbdTestServer(device);
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: false);

        client.SendRequest(CmdRead, cookie: 1, offset: ulong.MaxValue - 10, length: 512);
        Assert.Equal((EInval, 1UL), client.ReadSimpleReply());

        client.SendRequest(CmdRead, cookie: 2, offset: 512, length: 512);
        Assert.Equal((0u, 2UL), client.ReadSimpleReply());
        var expected = new byte[512];
        device.Read(expected, 512);
        Assert.Equal(expected, client.ReadExact(512));
    }

    [Fact]
    public async Task A_write_to_a_read_only_export_gets_EPERM_and_its_payload_is_skipped()
    {
        using var device = RandomDevice(1 << 20, writable: true);
        await using var server = new NbdTestServer(device, new NbdServerOptions { ReadOnly = true });
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: false);
        Assert.True((client.TransmissionFlags & 2) != 0, "NBD_FLAG_READ_ONLY");

        var before = new byte[4096];
        device.Read(before, 0);
        client.SendRequest(CmdWrite, cookie: 3, offset: 0, length: 4096);
        client.Send(new byte[4096]);
        Assert.Equal((EPerm, 3UL), client.ReadSimpleReply());

        client.SendRequest(CmdRead, cookie: 4, offset: 0, length: 4096);
        Assert.Equal((0u, 4UL), client.ReadSimpleReply());
        Assert.Equal(before, client.ReadExact(4096));
    }

    [Fact]
    public async Task Block_status_without_a_selected_meta_context_gets_EINVAL()
    {
        using var device = RandomDevice(1 << 20);
        await using var server = new NbdTestServer(device);
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: true);

        client.SendRequest(CmdBlockStatus, cookie: 5, offset: 0, length: 4096);
        var reply = client.ReadChunk();
        Assert.Equal(ChunkError, reply.Type);
        Assert.Equal(EInval, BinaryPrimitives.ReadUInt32BigEndian(reply.Payload));

        client.SendRequest(99, cookie: 6, offset: 0, length: 0); // unknown command
        Assert.Equal(EInval, BinaryPrimitives.ReadUInt32BigEndian(client.ReadChunk().Payload));
    }

    [Fact]
    public async Task Meta_contexts_are_listed_and_selected_with_distinct_ids()
    {
        var device = new LayeredTestDevice([new(65536, ExtentKind.Data, 1), new(65536, ExtentKind.Unallocated, -1)]);
        await using var server = new NbdTestServer(device, new NbdServerOptions { TopGeneration = 1 });
        using var client = new RawNbdClient(server.Port);
        client.ReadExact(18);
        client.Send([0, 0, 0, 3]);
        client.SendOption(8, []);
        Assert.Equal(1u, client.ReadOptionReply(8).Type);

        client.SendOption(9, MetaQuery()); // LIST, no queries: everything
        var listed = ReadContexts(client, 9);
        Assert.Equal(["base:allocation", "mountchain:generation"], listed.Select(c => c.Name).Order());

        client.SendOption(10, MetaQuery("base:allocation", "mountchain:generation", "qemu:dirty-bitmap:x"));
        var selected = ReadContexts(client, 10);
        Assert.Equal(2, selected.Count);
        Assert.NotEqual(selected[0].Id, selected[1].Id);

        client.SendOption(7, new byte[6]); // GO
        while (client.ReadOptionReply(7).Type != 1) { }

        client.SendRequest(CmdBlockStatus, cookie: 9, offset: 0, length: 131072);
        var statuses = new Dictionary<uint, (uint Length, uint Status)[]>();
        for (int i = 0; i < 2; i++)
        {
            var chunk = client.ReadChunk();
            Assert.Equal(ChunkBlockStatus, chunk.Type);
            Assert.Equal(i == 1, (chunk.Flags & FlagDone) != 0);
            statuses[BinaryPrimitives.ReadUInt32BigEndian(chunk.Payload)] = Enumerable.Range(0, (chunk.Payload.Length - 4) / 8)
                .Select(k => (BinaryPrimitives.ReadUInt32BigEndian(chunk.Payload.AsSpan(4 + k * 8)), BinaryPrimitives.ReadUInt32BigEndian(chunk.Payload.AsSpan(8 + k * 8))))
                .ToArray();
        }
        uint allocationId = selected.Single(c => c.Name == "base:allocation").Id;
        uint generationId = selected.Single(c => c.Name == "mountchain:generation").Id;
        Assert.Equal([(65536u, 0u), (65536u, 3u)], statuses[allocationId]);
        Assert.Equal([(65536u, 2u), (65536u, 0u)], statuses[generationId]);

        // REQ_ONE: one descriptor per context, no longer than asked.
        client.SendRequest(CmdBlockStatus, cookie: 10, offset: 0, length: 4096, flags: 8);
        for (int i = 0; i < 2; i++)
        {
            var chunk = client.ReadChunk();
            Assert.Equal(12, chunk.Payload.Length);
            Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(chunk.Payload.AsSpan(4)));
        }
    }

    [Fact]
    public async Task Pipelined_reads_are_all_answered_with_their_own_cookies_and_data()
    {
        using var device = RandomDevice(8 << 20);
        await using var server = new NbdTestServer(device);
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: true);

        const int count = 200;
        var random = new Random(11);
        var requests = Enumerable.Range(0, count).Select(i => (Cookie: (ulong)(1000 + i), Offset: (ulong)random.Next(0, (8 << 20) - 65536), Length: (uint)random.Next(1, 65536))).ToArray();
        foreach (var r in requests) client.SendRequest(CmdRead, r.Cookie, r.Offset, r.Length);

        var seen = new HashSet<ulong>();
        for (int i = 0; i < count; i++)
        {
            var chunk = client.ReadChunk();
            Assert.Equal(ChunkOffsetData, chunk.Type);
            var r = requests.Single(x => x.Cookie == chunk.Cookie);
            Assert.True(seen.Add(r.Cookie));
            var expected = new byte[r.Length];
            device.Read(expected, (long)r.Offset);
            Assert.Equal(r.Offset, BinaryPrimitives.ReadUInt64BigEndian(chunk.Payload));
            Assert.True(expected.AsSpan().SequenceEqual(chunk.Payload.AsSpan(8)));
        }

        client.SendRequest(CmdDisc, cookie: 0, offset: 0, length: 0);
        Assert.True(client.WasClosedByServer());
    }

    [Fact]
    public async Task An_unknown_export_name_is_refused_and_the_client_may_try_again()
    {
        using var device = RandomDevice(65536);
        await using var server = new NbdTestServer(device, new NbdServerOptions { ExportName = "disk" });
        using var client = new RawNbdClient(server.Port);
        client.ReadExact(18);
        client.Send([0, 0, 0, 1]);

        client.SendOption(7, GoFor("nosuch"));
        Assert.Equal(0x8000_0006u, client.ReadOptionReply(7).Type); // NBD_REP_ERR_UNKNOWN

        client.SendOption(7, GoFor("disk"));
        uint type;
        while ((type = client.ReadOptionReply(7).Type) == 3) { }
        Assert.Equal(1u, type);
    }

    [Fact]
    public async Task A_silent_client_is_dropped_after_the_handshake_timeout()
    {
        using var device = RandomDevice(65536);
        await using var server = new NbdTestServer(device, new NbdServerOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) });
        using var client = new RawNbdClient(server.Port);
        client.ReadExact(18);
        Assert.True(client.WasClosedByServer());
        Assert.Contains(server.Log, l => l.Contains("handshake not finished"));
    }

    [Fact]
    public async Task A_read_inside_a_hole_is_answered_with_one_hole_chunk_and_mixed_ranges_with_data()
    {
        var device = new LayeredTestDevice([new(65536, ExtentKind.Data, 0), new(65536, ExtentKind.Unallocated, -1), new(65536, ExtentKind.Zero, 0)]);
        await using var server = new NbdTestServer(device);
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: true);

        client.SendRequest(CmdRead, cookie: 1, offset: 70000, length: 120000);
        var hole = client.ReadChunk();
        Assert.Equal((FlagDone, (ushort)2, 1UL), (hole.Flags, hole.Type, hole.Cookie)); // NBD_REPLY_TYPE_OFFSET_HOLE
        Assert.Equal(70000UL, BinaryPrimitives.ReadUInt64BigEndian(hole.Payload));
        Assert.Equal(120000u, BinaryPrimitives.ReadUInt32BigEndian(hole.Payload.AsSpan(8)));

        client.SendRequest(CmdRead, cookie: 2, offset: 60000, length: 10000, flags: 4); // DF, data then hole
        var data = client.ReadChunk();
        Assert.Equal((FlagDone, ChunkOffsetData), (data.Flags, data.Type));
        Assert.True(device.Content.Slice(60000, 10000).SequenceEqual(data.Payload.AsSpan(8)));
    }

    [Fact]
    public async Task Shutdown_answers_the_requests_in_flight_then_flushes_the_device()
    {
        var inner = new MemoryBlockDevice(Enumerable.Range(0, 65536).Select(i => (byte)i).ToArray());
        var device = new SlowDevice(inner, readDelay: TimeSpan.FromMilliseconds(500));
        var server = new NbdTestServer(device);
        using var client = new RawNbdClient(server.Port);
        client.Handshake(structured: true);

        client.SendRequest(CmdRead, cookie: 42, offset: 1000, length: 3000);
        await Task.Delay(100); // the request is now inside the slow read
        var stopping = server.DisposeAsync().AsTask();

        var chunk = client.ReadChunk();
        Assert.Equal((ChunkOffsetData, 42UL), (chunk.Type, chunk.Cookie));
        Assert.True(inner.Length > 0 && chunk.Payload.AsSpan(8).SequenceEqual(Enumerable.Range(1000, 3000).Select(i => (byte)i).ToArray()));
        Assert.True(client.WasClosedByServer());
        await stopping;
        Assert.Equal(1, device.Flushes);
    }

    /// <summary>A writable device whose reads take a while and whose flushes are counted.</summary>
    private sealed class SlowDevice(IBlockDevice inner, TimeSpan readDelay) : IBlockDevice
    {
        public int Flushes;
        public long Length => inner.Length;
        public bool CanWrite => inner.CanWrite;
        public void Read(Span<byte> buffer, long offset) { Thread.Sleep(readDelay); inner.Read(buffer, offset); }
        public void Write(ReadOnlySpan<byte> data, long offset) => inner.Write(data, offset);
        public void Flush() { Interlocked.Increment(ref Flushes); inner.Flush(); }
        public void Discard(long offset, long length) => inner.Discard(offset, length);
        public void WriteZeroes(long offset, long length) => inner.WriteZeroes(offset, length);
        public void GetExtents(long offset, long length, List<BlockExtent> output) => inner.GetExtents(offset, length, output);
        public void Dispose() { }
    }

    private static byte[] GoFor(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        var data = new byte[4 + bytes.Length + 2];
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)bytes.Length);
        bytes.CopyTo(data, 4);
        return data;
    }

    private static byte[] MetaQuery(params string[] queries)
    {
        var data = new List<byte>();
        data.AddRange(new byte[4]); // default export
        data.AddRange(BigEndian((uint)queries.Length));
        foreach (var q in queries)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(q);
            data.AddRange(BigEndian((uint)bytes.Length));
            data.AddRange(bytes);
        }
        return data.ToArray();
    }

    private static byte[] BigEndian(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return b;
    }

    private static List<(uint Id, string Name)> ReadContexts(RawNbdClient client, uint option)
    {
        var contexts = new List<(uint, string)>();
        while (true)
        {
            var (type, data) = client.ReadOptionReply(option);
            if (type == 1) return contexts;
            Assert.Equal(4u, type); // NBD_REP_META_CONTEXT
            contexts.Add((BinaryPrimitives.ReadUInt32BigEndian(data), RawNbdClient.Text(data[4..])));
        }
    }
}
