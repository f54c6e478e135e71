using System.Security.Cryptography;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Xfs;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>
/// Version 4 (no CRC, ftype=0) images. This kernel no longer mounts v4, so mkfs.xfs builds and
/// populates them itself from a protofile (-p) over a source tree; the source tree is the truth.
/// </summary>
public sealed class XfsV4ProtofileTests(XfsV4Image v4) : IClassFixture<XfsV4Image>
{
    /// <summary>A private copy of the shared image for a test that damages it.</summary>
    private string CopyImage(string name)
    {
        string copy = Path.Combine(v4.Dir, name);
        File.Copy(v4.Built.Image, copy, true);
        return copy;
    }

    [XfsToolsFact]
    public void A_v4_image_built_by_mkfs_reads_back_its_source_tree()
    {
        var (image, truth) = v4.Built;
        using var fs = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true);
        Assert.Equal(4, fs.Version);
        Assert.Equal("mcv4", fs.Label);
        var ours = XfsReaderTreeWalk.WalkAll(fs);
        Assert.Equal(truth.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, want) in truth)
        {
            var e = ours[path];
            Assert.True(want.Type == e.Type, $"{path}: {e.Type}, expected {want.Type}");
            Assert.Equal(want.Mode, e.Mode);
            if (want.Sha256 != null) Assert.True(want.Sha256 == XfsReaderTreeWalk.Sha256(fs, e), $"{path}: content differs");
            if (want.LinkTarget != null) Assert.Equal(want.LinkTarget, fs.ReadLink(e));
            if (want.Size >= 0) Assert.Equal(want.Size, e.Size);
        }
        // The shapes this test is about, as xfs_db sees them.
        string Format(string path) => XfsProcess.XfsDb(image, false, $"inode {ours[path].Id}", "print core.format");
        Assert.Contains("(local)", Format("/sf"));
        Assert.Contains("(extents)", Format("/block"));
        Assert.Contains("(btree)", Format("/many")); // a v4 bmbt (BMAP blocks)
        Assert.Contains("(extents)", Format("/long-link"));
        Assert.Contains("(local)", Format("/short-link"));
        Assert.True(ours["/many"].Size > 32 * 4096, "the big directory should span many data blocks (leaf/node form)");
    }

    [XfsToolsFact]
    public void A_v4_directory_entry_with_zero_length_is_corruption_not_a_hang()
    {
        string image = CopyImage($"damaged-{Guid.NewGuid():N}.img");
        ulong ino;
        using (var fs = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true)) ino = fs.Lookup("/block")!.Id;
        string first = XfsProcess.XfsDb(image, false, $"inode {ino}", "bmap").Split('\n')[0];
        ulong fsblock = ulong.Parse(first.Split(' ')[4]);
        long byteOffset = XfsProcess.ParseConvert(XfsProcess.XfsDb(image, false, $"convert fsblock {fsblock} byte"));
        using (var handle = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.Write(handle, new byte[] { 0xff, 0xff, 0, 0 }, byteOffset + 16); // "." becomes a free entry of length 0

        using var damaged = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true);
        var ex = Assert.Throws<FileSystemCorruptException>(() => damaged.List(damaged.Lookup("/block")!));
        Assert.Contains($"directory inode {ino}: unused entry at 16 has bad length 0", ex.Message);
    }

    [XfsToolsFact]
    public void A_v4_inode_with_an_extent_count_beyond_its_fork_is_corruption()
    {
        string image = CopyImage($"damaged-{Guid.NewGuid():N}.img");
        ulong ino;
        using (var fs = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true)) ino = fs.Lookup("/three-megabytes")!.Id;
        long byteOffset = XfsProcess.ParseConvert(XfsProcess.XfsDb(image, false, $"convert ino {ino} byte"));
        using (var handle = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.Write(handle, new byte[] { 0, 0, 0x40, 0 }, byteOffset + 76); // di_nextents = 16384

        using var damaged = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true);
        var file = damaged.Lookup("/three-megabytes")!;
        var ex = Assert.Throws<FileSystemCorruptException>(() => damaged.Read(file, new byte[4096], 0));
        Assert.Contains($"inode {ino}: extent count 16384 does not fit", ex.Message);
    }
}

/// <summary>Version 4 image built once per test class by mkfs.xfs -m crc=0 -n ftype=0 -p protofile, with its source tree as truth.</summary>
public sealed class XfsV4Image : IDisposable
{
    /// <summary>What the source tree holds per path: type, content hash or link target.</summary>
    public sealed record Expected(FsEntryType Type, long Size, string? Sha256, string? LinkTarget, uint Mode);

    private readonly Lazy<(string Image, Dictionary<string, Expected> Truth)> _built;

    public XfsV4Image() => _built = new(Build);

    private readonly TempDirectory _temp = new("mountchain-xfs4");
    public string Dir => _temp.Path;
    public (string Image, Dictionary<string, Expected> Truth) Built => _built.Value;

    public void Dispose() => _temp.Dispose();

    private (string Image, Dictionary<string, Expected> Truth) Build()
    {
        var random = new Random(4);
        var truth = new Dictionary<string, Expected>(StringComparer.Ordinal);
        string src = Path.Combine(Dir, "src");
        Directory.CreateDirectory(src);
        var proto = new StringBuilder("/dev/null\n0 0\nd--755 0 0\n");

        string AddFile(string path, int size)
        {
            string source = Path.Combine(src, $"blob{truth.Count}");
            byte[] data = new byte[size];
            random.NextBytes(data);
            File.WriteAllBytes(source, data);
            truth[path] = new Expected(FsEntryType.File, size, Convert.ToHexStringLower(SHA256.HashData(data)), null, 0x81a4);
            return $"{Path.GetFileName(path)} ---644 0 0 {source}\n";
        }
        void AddDir(string path) => truth[path] = new Expected(FsEntryType.Directory, -1, null, null, 0x41ed);
        string AddLink(string path, string target)
        {
            truth[path] = new Expected(FsEntryType.Symlink, Encoding.UTF8.GetByteCount(target), null, target, 0xa1ff);
            return $"{Path.GetFileName(path)} l--777 0 0 {target}\n";
        }

        for (int i = 0; i < 60; i++) proto.Append(AddFile($"/f{i}", i * 997 % 20000));
        proto.Append(AddFile("/three-megabytes", 3 << 20));
        proto.Append(AddFile("/empty", 0));
        proto.Append(AddLink("/short-link", "f1"));
        proto.Append(AddLink("/long-link", string.Concat(Enumerable.Range(0, 30).Select(i => $"component-{i:D2}/")) + "end"));

        AddDir("/many"); proto.Append("many d--755 0 0\n");
        string shared = Path.Combine(src, "shared-empty");
        File.WriteAllBytes(shared, []);
        for (int i = 0; i < 3000; i++)
        {
            string path = $"/many/a-long-directory-entry-name-number-{i:D5}";
            truth[path] = new Expected(FsEntryType.File, 0, Convert.ToHexStringLower(SHA256.HashData(ReadOnlySpan<byte>.Empty)), null, 0x81a4);
            proto.Append($"{Path.GetFileName(path)} ---644 0 0 {shared}\n");
        }
        proto.Append("$\n");
        AddDir("/sf"); proto.Append("sf d--755 0 0\n");
        proto.Append(AddFile("/sf/one", 5)).Append(AddLink("/sf/up", "../f2"));
        proto.Append("$\n");
        AddDir("/block"); proto.Append("block d--755 0 0\n");
        for (int i = 0; i < 30; i++) proto.Append(AddFile($"/block/entry{i}", 10));
        proto.Append("$\n");
        AddDir("/ünïcødé_☃"); proto.Append("ünïcødé_☃ d--755 0 0\n");
        proto.Append(AddFile("/ünïcødé_☃/日本語", 1234));
        proto.Append("$\n");
        string deep = "";
        for (int i = 1; i <= 20; i++) { deep += $"/level{i}"; AddDir(deep); proto.Append($"level{i} d--755 0 0\n"); }
        proto.Append(AddFile(deep + "/leaf", 77));
        for (int i = 0; i <= 20; i++) proto.Append("$\n");

        string protoPath = Path.Combine(Dir, "proto"), image = Path.Combine(Dir, "v4.img");
        File.WriteAllText(protoPath, proto.ToString());
        ProcessRunner.Check("truncate", "-s", "320M", image); // mkfs refuses v4 file systems under 300 MB
        ProcessRunner.Check("mkfs.xfs", "-q", "-f", "-m", "crc=0", "-n", "ftype=0", "-L", "mcv4", "-p", protoPath, image);
        return (image, truth);
    }
}

/// <summary>Registry entry points on devices that are or are not XFS.</summary>
public sealed class XfsProbeTests(XfsV4Image v4) : IClassFixture<XfsV4Image>
{
    [Fact]
    public void A_device_without_an_xfs_superblock_is_not_opened()
    {
        var zeros = new MemoryBlockDevice(new byte[1 << 20], writable: false);
        Assert.False(XfsFileSystem.Probe(new byte[512]));
        Assert.Null(XfsFileSystem.TryOpen(zeros));
        Assert.Throws<FileSystemCorruptException>(() => XfsFileSystem.Open(zeros));
    }

    [XfsToolsFact]
    public void A_mkfs_image_is_probed_and_opened_through_try_open()
    {
        byte[] sector = new byte[512];
        using var device = new RawFileBlockDevice(v4.Built.Image);
        device.Read(sector, 0);
        Assert.True(XfsFileSystem.Probe(sector));
        using var fs = XfsFileSystem.TryOpen(device);
        Assert.NotNull(fs);
        Assert.Equal("xfs", fs.Kind);
    }
}
