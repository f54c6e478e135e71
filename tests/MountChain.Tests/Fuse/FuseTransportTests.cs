using System.Security.Cryptography;
using MountChain.Core.BlockDevices;
using MountChain.Mounting.BlockFile;
using MountChain.Fuse.Hosting;
using MountChain.Mounting.Trees;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Fuse;

/// <summary>
/// Both FUSE transports — our own /dev/fuse protocol and libfuse — on the real kernel, side by side:
/// the same tree must look the same through each (bytes, holes, writes, directories, names).
/// </summary>
public sealed class FuseTransportTests : IDisposable
{
    /// <summary>The kernel offers FUSE-over-io_uring only while this module parameter is Y.</summary>
    private const string UringSwitch = "/sys/module/fuse/parameters/enable_uring";
    private readonly string? _uringBefore = File.Exists(UringSwitch) ? File.ReadAllText(UringSwitch).Trim() : null;

    public FuseTransportTests()
    {
        // Every theory below runs with io_uring offered; the fallback test turns it off for itself.
        if (_uringBefore is not null) TrySetUring("Y");
    }

    public void Dispose()
    {
        if (_uringBefore is not null) TrySetUring(_uringBefore);
    }

    private static bool TrySetUring(string value)
    {
        try { File.WriteAllText(UringSwitch, value); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static bool UringOffered => File.Exists(UringSwitch) && File.ReadAllText(UringSwitch).Trim() == "Y";

    public static TheoryData<FuseTransport> Transports => new() { FuseTransport.IoUring, FuseTransport.Kernel, FuseTransport.LibFuse };

    private static string ExpectedName(FuseTransport transport) => transport switch
    {
        FuseTransport.IoUring => UringOffered ? "io_uring" : "kernel",
        FuseTransport.Kernel => "kernel",
        _ => "libfuse",
    };

    [RequiresFuseFact]
    public void Io_uring_falls_back_to_the_read_write_loop_where_the_kernel_does_not_offer_it()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var data = new byte[1 << 20];
        new Random(5).NextBytes(data);
        using var device = new MemoryBlockDevice(data, writable: false);
        Assert.True(!File.Exists(UringSwitch) || TrySetUring("N"), "cannot switch fuse.enable_uring off");
        using (var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("off"), new FuseMountOptions { Transport = FuseTransport.IoUring }))
        {
            Assert.Equal("kernel", mount.Mount.Transport);
            Assert.True(File.ReadAllBytes(mount.DiskFile).AsSpan().SequenceEqual(data));
        }
        if (!File.Exists(UringSwitch) || !TrySetUring("Y")) return; // a kernel without FUSE-over-io_uring: only the fallback to test
        // Right after the switch flips back, the kernel may still answer the first INITs without
        // io_uring (seen on 6.18, about one mount in two); a later mount must agree on it.
        string transport = "";
        for (int attempt = 0; attempt < 20 && transport != "io_uring"; attempt++)
        {
            if (attempt > 0) Thread.Sleep(100);
            using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir($"on{attempt}"), new FuseMountOptions { Transport = FuseTransport.IoUring });
            transport = mount.Mount.Transport;
            Assert.True(File.ReadAllBytes(mount.DiskFile).AsSpan().SequenceEqual(data));
        }
        Assert.Equal("io_uring", transport);
    }

    [RequiresFuseFact]
    public void Auto_picks_our_transport_for_root_and_the_variable_overrides_it()
    {
        string? saved = Environment.GetEnvironmentVariable(FuseMount.TransportVariable);
        try
        {
            Environment.SetEnvironmentVariable(FuseMount.TransportVariable, null);
            // These tests run as root, where mount(2) is ours to call.
            Assert.Equal(FuseTransport.IoUring, FuseMount.Resolve(FuseTransport.Auto));
            Environment.SetEnvironmentVariable(FuseMount.TransportVariable, "libfuse");
            Assert.Equal(FuseTransport.LibFuse, FuseMount.Resolve(FuseTransport.Auto));
            Environment.SetEnvironmentVariable(FuseMount.TransportVariable, "kernel");
            Assert.Equal(FuseTransport.Kernel, FuseMount.Resolve(FuseTransport.Auto));
            Environment.SetEnvironmentVariable(FuseMount.TransportVariable, "uring");
            Assert.Equal(FuseTransport.IoUring, FuseMount.Resolve(FuseTransport.Auto));
            // An explicit choice is never overridden.
            Assert.Equal(FuseTransport.LibFuse, FuseMount.Resolve(FuseTransport.LibFuse));
        }
        finally { Environment.SetEnvironmentVariable(FuseMount.TransportVariable, saved); }
    }

    [RequiresFuseTheory]
    [MemberData(nameof(Transports))]
    public void Disk_file_reads_like_the_device_with_holes_and_direct_io(FuseTransport transport)
    {
        using var scratch = new TempDirectory("mc-fuse");
        var data = new byte[8 << 20];
        new Random(7).NextBytes(data.AsSpan(1 << 20, 2 << 20));   // data at [1 MiB, 3 MiB), zeros elsewhere
        new Random(8).NextBytes(data.AsSpan(6 << 20, 64 << 10)); // and at [6 MiB, 6 MiB + 64 KiB)
        using var device = new MemoryBlockDevice(data, writable: false);
        using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"), new FuseMountOptions { Transport = transport });
        Assert.Equal(ExpectedName(transport), mount.Mount.Transport);

        Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(mount.DiskFile))));
        // O_DIRECT reads of every size class, including ones the kernel splits (async DIO).
        using (var handle = File.OpenHandle(mount.DiskFile, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None))
        {
            foreach (int size in new[] { 4096, 65536, 1 << 20, 3 << 20 })
            {
                var buffer = new byte[size];
                long offset = (1 << 20) - 4096;
                int n = RandomAccess.Read(handle, buffer, offset);
                Assert.Equal(size, n);
                Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan((int)offset, size)));
            }
            var tail = new byte[8192];
            Assert.Equal(4096, RandomAccess.Read(handle, tail, data.Length - 4096));
            Assert.Equal(0, RandomAccess.Read(handle, tail, data.Length));
        }
        Assert.Equal(["disk.raw"], Directory.EnumerateFileSystemEntries(mount.MountPoint).Select(Path.GetFileName));
    }

    /// <summary>
    /// A chain's block file through each transport: large O_DIRECT reads that cross data of both
    /// links, a zeroed range and holes (the read/write loop gathers these from mapped files), at
    /// aligned and misaligned offsets, read exactly what qemu reads; so does a raw image.
    /// </summary>
    [RequiresFuseTheory]
    [MemberData(nameof(Transports))]
    public void Chain_and_raw_block_files_read_like_qemu_through_large_direct_reads(FuseTransport transport)
    {
        using var env = new Cow.CowEnvironment();
        string b = env.PathOf("base.vmdk"), c = env.PathOf("c1.vmdk");
        env.Tool("qemu-img", $"create -f vmdk \"{b}\" 16M");
        env.Tool("qemu-io", $"-f vmdk -c \"write -P 0x5a 0 6M\" -c \"write -P 0x77 10M 2M\" \"{b}\"");
        env.Tool("qemu-img", $"create -f vmdk -b base.vmdk -F vmdk \"{c}\"");
        env.Tool("qemu-io", $"-f vmdk -c \"write -P 0xc1 1M 1536k\" -c \"write -z 4M 512k\" -c \"write -P 0xc2 8M 2M\" \"{c}\"");
        byte[] expected = env.QemuRaw(c);
        string raw = env.PathOf("disk.img");
        File.WriteAllBytes(raw, expected);
        using var chain = Core.Chain.VmdkChain.Open(c);
        using var generation = chain.OpenGeneration(1);
        using var rawDevice = new RawFileBlockDevice(raw);
        foreach (var (name, device) in new (string, IBlockDevice)[] { ("chain", generation), ("raw", rawDevice) })
        {
            string mountPoint = Directory.CreateDirectory(env.PathOf($"mnt-{name}")).FullName;
            using var mount = new InProcessMount(new BlockFileTree(device), mountPoint, new FuseMountOptions { Transport = transport });
            using var handle = File.OpenHandle(mount.DiskFile, FileMode.Open, FileAccess.Read, FileShare.Read, (FileOptions)0x4000 /* O_DIRECT */);
            var buffer = GC.AllocateArray<byte>((3 << 20) + 4096, pinned: true);
            foreach (var (offset, size) in new[] { (0L, 1 << 20), (1L << 20, 1 << 20), (3L << 20, 3 << 20), (3584L << 10, 1 << 20), (7L << 20, 2 << 20), (15L << 20, 1 << 20), (512L, 1 << 20) })
            {
                // O_DIRECT wants an aligned buffer: the array's first 4 KiB-aligned byte.
                int skip = (int)((4096 - System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0) % 4096) % 4096);
                var span = buffer.AsSpan(skip, size);
                int n = RandomAccess.Read(handle, span, offset);
                Assert.Equal(size, n);
                Assert.True(span.SequenceEqual(expected.AsSpan((int)offset, size)), $"{name}: {size} bytes at {offset} differ");
            }
            Assert.Equal(Convert.ToHexString(SHA256.HashData(expected)), Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(mount.DiskFile))));
        }
    }

    [RequiresFuseTheory]
    [MemberData(nameof(Transports))]
    public void Writes_and_fsync_reach_the_device_and_the_size_cannot_change(FuseTransport transport)
    {
        using var scratch = new TempDirectory("mc-fuse");
        var data = new byte[4 << 20];
        new Random(3).NextBytes(data);
        using var device = new MemoryBlockDevice(data);
        using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"), new FuseMountOptions { Transport = transport });
        var patch = new byte[3 << 20];
        new Random(4).NextBytes(patch);
        using (var stream = new FileStream(mount.DiskFile, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            stream.Position = 12345;
            stream.Write(patch);
            stream.Flush(flushToDisk: true);
        }
        var expected = data.ToArray();
        patch.CopyTo(expected, 12345);
        var check = new byte[expected.Length];
        device.Read(check, 0);
        Assert.True(check.AsSpan().SequenceEqual(expected));
        Assert.True(File.ReadAllBytes(mount.DiskFile).AsSpan().SequenceEqual(expected));
        // Growing a disk is refused; truncating to its own size is accepted.
        using (var stream = new FileStream(mount.DiskFile, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            Assert.ThrowsAny<Exception>(() => stream.SetLength(expected.Length + 4096));
            stream.SetLength(expected.Length);
        }
    }

    [RequiresFuseTheory]
    [MemberData(nameof(Transports))]
    public void Large_directories_list_completely_and_names_resolve_after_the_kernel_forgets_them(FuseTransport transport)
    {
        using var scratch = new TempDirectory("mc-fuse");
        var tree = new WideTree(3000);
        using var mount = new InProcessMount(tree, scratch.Dir("mnt"), new FuseMountOptions { Transport = transport, AttributeTimeout = TimeSpan.Zero });
        var listed = Directory.EnumerateFiles(Path.Combine(mount.MountPoint, "d")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(tree.Names.Order(StringComparer.Ordinal), listed);
        // Names with spaces and non-ASCII characters, reached by path, twice (the second after the entry timed out).
        for (int round = 0; round < 2; round++)
            foreach (var name in new[] { tree.Names[0], tree.Names[1499], tree.Names[^1] })
                Assert.Equal(WideTree.Content(name), File.ReadAllText(Path.Combine(mount.MountPoint, "d", name)));
        Assert.False(File.Exists(Path.Combine(mount.MountPoint, "d", "absent")));
        Assert.Equal("d/" + tree.Names[5], new FileInfo(Path.Combine(mount.MountPoint, "link")).LinkTarget);
    }

    /// <summary>A tree of one directory with many small files and a symlink: the directory paths a transport must get right.</summary>
    private sealed class WideTree : IFileTree
    {
        private static readonly DateTimeOffset Time = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

        public WideTree(int count) =>
            Names = Enumerable.Range(0, count).Select(i => i % 3 == 0 ? $"file {i} é.txt" : $"f{i:D5}").ToList();

        public List<string> Names { get; }
        public bool CanWrite => false;
        public VolumeInfo Volume => new("wide", 1 << 20, 0, 4096, Names.Count);

        public static string Content(string name) => "content of " + name;

        public FileNode? Find(string path)
        {
            path = TreePath.Normalize(path);
            if (path == "/") return new FileNode("", NodeKind.Directory, 0, 0, false, Time, 1);
            if (path == "/d") return new FileNode("d", NodeKind.Directory, 0, 0, false, Time, 2);
            if (path == "/link") return new FileNode("link", NodeKind.SymbolicLink, 0, 0, false, Time, 3);
            if (!path.StartsWith("/d/", StringComparison.Ordinal)) return null;
            int index = Names.IndexOf(path[3..]);
            return index < 0 ? null : File(index);
        }

        private FileNode File(int index)
        {
            long size = System.Text.Encoding.UTF8.GetByteCount(Content(Names[index]));
            return new FileNode(Names[index], NodeKind.RegularFile, size, size, false, Time, 100 + index);
        }

        public IReadOnlyList<FileNode> List(string path) => TreePath.Normalize(path) switch
        {
            "/" => [Find("/d")!, Find("/link")!],
            "/d" => Names.Select((_, i) => File(i)).ToList(),
            _ => throw new FileTreeException(FileTreeError.NotADirectory, path),
        };

        public IOpenFile Open(string path, bool write)
        {
            var node = Find(path) ?? throw new FileTreeException(FileTreeError.NotFound, path);
            return new TextFile(node, Content(node.Name));
        }

        public string ReadLink(string path) => "d/" + Names[5];

        private sealed class TextFile(FileNode node, string text) : IOpenFile
        {
            private readonly byte[] _bytes = System.Text.Encoding.UTF8.GetBytes(text);
            public FileNode Node => node;
            public bool IsWritable => false;

            public int Read(Span<byte> buffer, long offset)
            {
                if (offset >= _bytes.Length) return 0;
                int n = (int)Math.Min(buffer.Length, _bytes.Length - offset);
                _bytes.AsSpan((int)offset, n).CopyTo(buffer);
                return n;
            }

            public int Write(ReadOnlySpan<byte> data, long offset) => throw new FileTreeException(FileTreeError.ReadOnly, node.Name);
            public void Flush() { }
            public void FlushIfDirty() { }
            public void Discard(long offset, long length) => throw new FileTreeException(FileTreeError.ReadOnly, node.Name);
            public void WriteZeroes(long offset, long length) => throw new FileTreeException(FileTreeError.ReadOnly, node.Name);
            public long SeekData(long offset) => offset < _bytes.Length ? offset : throw new FileTreeException(FileTreeError.NoData, node.Name);
            public long SeekHole(long offset) => _bytes.Length;
            public void Dispose() { }
        }
    }
}
