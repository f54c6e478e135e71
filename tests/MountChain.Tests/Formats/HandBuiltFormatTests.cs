using System.Text;
using MountChain.Core.Chain;
using MountChain.Core.Inspection;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Formats;

/// <summary>
/// Files qemu cannot make (format doc §11), written byte by byte: their bytes are checked against
/// our own model of the file, and against qemu where qemu reads the feature correctly.
/// </summary>
public sealed class HandBuiltFormatTests : IDisposable
{
    private readonly TempDirectory _dir = new("handbuilt");

    public void Dispose() => _dir.Dispose();

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] Filled(int length, byte value) => Enumerable.Repeat(value, length).ToArray();

    private static byte[] ReadGeneration(string path, int? generation = null, ChainOpenOptions? options = null)
    {
        using var chain = VmdkChain.Open(path, options);
        using var device = chain.OpenGeneration(generation ?? chain.TopGeneration);
        var bytes = new byte[device.Length];
        device.Read(bytes, 0);
        return bytes;
    }

    private byte[] QemuRaw(string source)
    {
        string raw = _dir.File($"qemu-{Guid.NewGuid():N}.raw");
        Qemu.ConvertToRaw(source, raw);
        return File.ReadAllBytes(raw);
    }

    private static void AssertSameBytes(byte[] expected, byte[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int i = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(i == expected.Length, $"{what}: first difference at byte {i}");
    }

    // ---- streamOptimized, VMware layout ------------------------------------------------------

    private SparseImageBuilder VmwareStream(string name, long sectors)
    {
        var b = new SparseImageBuilder
        {
            CapacitySectors = sectors, StreamOptimized = true, Version = 3, Flags = 0x30001,
            Descriptor = SparseImageBuilder.BaseDescriptor(name, sectors, "streamOptimized"),
        };
        return b;
    }

    [QemuFact]
    public void A_VMware_streamOptimized_file_with_footer_and_an_incompressible_grain_reads_correctly()
    {
        var b = VmwareStream("vmware-stream.vmdk", 40L << 11); // 40 MiB: two grain tables
        b.Grains[0] = Filled(65536, 0x11);
        b.Grains[1] = Pattern(65536, 1); // random: compresses to more than a grain
        b.Grains[7] = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("streamOptimized ", 4096)));
        b.Grains[600] = Pattern(65536, 2); // in the second grain table
        b.Grains[639] = Filled(65536, 0x7E);
        string path = _dir.File("vmware-stream.vmdk");
        var layout = b.WriteTo(path);
        Assert.True(layout.CompressedSizes[1] > 65536, "the random grain should not compress below a grain");
        Assert.Equal(ulong.MaxValue, SparseFileEditor.ReadU64(path, SparseFileEditor.GdOffsetOffset));

        var expected = b.ExpectedRaw();
        AssertSameBytes(expected, ReadGeneration(path), "ours vs model");
        AssertSameBytes(expected, QemuRaw(path), "qemu vs model");
    }

    [Fact]
    public void A_streamOptimized_file_whose_last_grain_is_partial_reads_correctly()
    {
        var b = VmwareStream("partial.vmdk", 1000); // 7 full grains + 104 sectors
        b.Grains[0] = Pattern(65536, 3);
        b.Grains[7] = Pattern(104 * 512, 4);
        string path = _dir.File("partial.vmdk");
        b.WriteTo(path);
        AssertSameBytes(b.ExpectedRaw(), ReadGeneration(path), "ours vs model");
    }

    [Fact]
    public void A_GD_AT_END_file_without_a_footer_is_refused_naming_the_file()
    {
        var b = VmwareStream("nofooter.vmdk", 2048);
        b.Grains[0] = Pattern(65536, 5);
        string path = _dir.File("nofooter.vmdk");
        b.WriteTo(path);
        using (var f = new FileStream(path, FileMode.Open)) f.SetLength(f.Length - 512); // drop the EOS marker
        var e = Assert.ThrowsAny<MountChain.Core.Errors.VmdkException>(() => VmdkChain.Open(path));
        Assert.Contains("nofooter.vmdk", e.Message);
    }

    // ---- hosted sparse oddities -------------------------------------------------------------

    [QemuFact]
    public void A_capacity_that_is_not_a_multiple_of_the_grain_size_reads_correctly()
    {
        long sectors = 128 * 20 + 37;
        var b = new SparseImageBuilder { CapacitySectors = sectors, Descriptor = SparseImageBuilder.BaseDescriptor("odd.vmdk", sectors, "monolithicSparse") };
        b.Grains[0] = Pattern(65536, 6);
        b.Grains[20] = Pattern(65536, 7); // the partial last grain: only 37 sectors of it are visible
        string path = _dir.File("odd.vmdk");
        b.WriteTo(path);
        var expected = b.ExpectedRaw();
        AssertSameBytes(expected, ReadGeneration(path), "ours vs model");
        AssertSameBytes(expected, QemuRaw(path), "qemu vs model");
    }

    [QemuFact]
    public void Zeroed_grain_entries_read_as_zeros_in_a_hand_built_version_2_file()
    {
        long sectors = 128 * 16;
        var b = new SparseImageBuilder { CapacitySectors = sectors, Version = 2, Flags = 0x7, Descriptor = SparseImageBuilder.BaseDescriptor("zg.vmdk", sectors, "monolithicSparse") };
        b.Grains[1] = Pattern(65536, 8);
        b.ZeroedGrains.Add(2);
        b.ZeroedGrains.Add(9);
        string path = _dir.File("zg.vmdk");
        b.WriteTo(path);
        var expected = b.ExpectedRaw();
        AssertSameBytes(expected, ReadGeneration(path), "ours vs model");
        AssertSameBytes(expected, QemuRaw(path), "qemu vs model");
    }

    [QemuFact]
    public void A_version_3_uncompressed_header_is_read_like_qemu_reads_it_read_only()
    {
        string path = _dir.File("v3.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", path, "4M");
        Qemu.Io(_dir.Path, path, ["write -q -P 0x33 64k 192k", "write -q -P 0x44 3M 4k"]);
        SparseFileEditor.WriteU32(path, SparseFileEditor.VersionOffset, 3);
        AssertSameBytes(QemuRaw(path), ReadGeneration(path), "ours vs qemu");
    }

    [QemuFact]
    public void A_corrupt_primary_grain_directory_falls_back_to_the_redundant_one_and_says_so()
    {
        string path = _dir.File("rgd.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", path, "64M");
        Qemu.Io(_dir.Path, path, ["write -q -P 0x51 0 128k", "write -q -P 0x52 40M 64k"]);
        var before = QemuRaw(path);
        long gd = (long)SparseFileEditor.ReadU64(path, SparseFileEditor.GdOffsetOffset);
        SparseFileEditor.WriteU32(path, gd * 512 + 4, 0x7FFFFFF0); // GD[1] points far past EOF
        AssertSameBytes(before, ReadGeneration(path), "ours vs the file before corruption");
        using var chain = VmdkChain.Open(path);
        var report = LinkInspector.Inspect(chain.Links[0]);
        Assert.Contains(report.Problems, p => p.Contains("redundant", StringComparison.OrdinalIgnoreCase));
    }

    // ---- descriptors -------------------------------------------------------------------------

    /// <summary>Writes flat data files of random bytes and returns their contents.</summary>
    private Dictionary<string, byte[]> FlatFiles(params (string Name, int Bytes)[] files)
    {
        var result = new Dictionary<string, byte[]>();
        int seed = 100;
        foreach (var (name, bytes) in files)
        {
            var data = Pattern(bytes, seed++);
            File.WriteAllBytes(_dir.File(name), data);
            result[name] = data;
        }
        return result;
    }

    private static string FlatDescriptor(string createType, string extents, string newline = "\n", string keys = "version=1|CID=0badf00d|parentCID=ffffffff") =>
        string.Join(newline, new[] { "# Disk DescriptorFile" }.Concat(keys.Split('|')).Concat([$"createType=\"{createType}\"", "", "# Extent description"])
            .Concat(extents.Split('|')).Concat(["", "# The Disk Data Base", "#DDB", "ddb.adapterType = \"lsilogic\"", ""]));

    [Fact]
    public void ZERO_and_RDONLY_extents_keep_their_address_space()
    {
        var f = FlatFiles(("a.bin", 2048 * 512), ("b.bin", 2048 * 512), ("c.bin", 1024 * 512));
        string path = _dir.File("zero-rdonly.vmdk");
        File.WriteAllText(path, FlatDescriptor("monolithicFlat", "RW 2048 FLAT \"a.bin\" 0|RW 2048 ZERO|RDONLY 2048 FLAT \"b.bin\" 0|RW 1024 FLAT \"c.bin\" 0"));
        var expected = f["a.bin"].Concat(new byte[2048 * 512]).Concat(f["b.bin"]).Concat(f["c.bin"]).ToArray();
        // qemu drops ZERO/RDONLY lines (format doc §6.1), so the oracle is our own model.
        AssertSameBytes(expected, ReadGeneration(path), "ours vs model");
    }

    [QemuFact]
    public void VMFS_extent_lines_read_with_and_without_the_offset_token()
    {
        var f = FlatFiles(("disk-flat.vmdk", 4096 * 512));
        string four = _dir.File("vmfs4.vmdk");
        File.WriteAllText(four, FlatDescriptor("vmfs", "RW 4096 VMFS \"disk-flat.vmdk\""));
        AssertSameBytes(f["disk-flat.vmdk"], ReadGeneration(four), "4-token VMFS line");
        AssertSameBytes(f["disk-flat.vmdk"], QemuRaw(four), "qemu on the 4-token VMFS line");

        string five = _dir.File("vmfs5.vmdk");
        File.WriteAllText(five, FlatDescriptor("vmfs", "RW 1024 VMFS \"disk-flat.vmdk\" 3072|RW 2048 VMFS \"disk-flat.vmdk\" 0"));
        var expected = f["disk-flat.vmdk"].AsSpan(3072 * 512, 1024 * 512).ToArray().Concat(f["disk-flat.vmdk"].AsSpan(0, 2048 * 512).ToArray()).ToArray();
        AssertSameBytes(expected, ReadGeneration(five), "5-token VMFS lines with offsets");
    }

    [QemuFact]
    public void CRLF_descriptors_and_quoted_file_names_with_spaces_read_like_qemu()
    {
        var f = FlatFiles(("my disk-flat.vmdk", 2048 * 512));
        string path = _dir.File("my disk.vmdk");
        File.WriteAllText(path, FlatDescriptor("monolithicFlat", "RW 2048 FLAT \"my disk-flat.vmdk\" 0", newline: "\r\n"));
        AssertSameBytes(f["my disk-flat.vmdk"], ReadGeneration(path), "ours vs model");
        AssertSameBytes(f["my disk-flat.vmdk"], QemuRaw(path), "qemu vs model");
    }

    [Fact]
    public void Keys_and_words_in_odd_case_are_accepted()
    {
        var f = FlatFiles(("case-flat.vmdk", 1024 * 512));
        string path = _dir.File("case.vmdk");
        File.WriteAllText(path, FlatDescriptor("monolithicFlat", "rw 1024 flat \"case-flat.vmdk\" 0", keys: "VERSION=1|cid=0badf00d|ParentCid=FFFFFFFF").Replace("createType", "CREATETYPE"));
        AssertSameBytes(f["case-flat.vmdk"], ReadGeneration(path), "ours vs model");
    }

    [QemuFact]
    public void A_windows_1252_descriptor_finds_a_parent_with_a_non_ASCII_name()
    {
        string parent = _dir.File("bäse.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", parent, "4M");
        Qemu.Io(_dir.Path, parent, ["write -q -P 0x61 0 1M", "write -q -P 0x62 2M 512k"]);
        string child = _dir.File("child.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b", "bäse.vmdk", "-F", "vmdk", child);
        Qemu.Io(_dir.Path, child, ["write -q -P 0x63 512k 1M"]);
        var expected = QemuRaw(child);

        // Re-encode the child's descriptor as windows-1252: "ä" becomes the single byte 0xE4.
        System.Text.Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var cp1252 = System.Text.Encoding.GetEncoding("windows-1252");
        string text = File.ReadAllText(child, System.Text.Encoding.UTF8).Replace("version=1\n", "version=1\nencoding=\"windows-1252\"\n");
        File.WriteAllBytes(child, cp1252.GetBytes(text));
        Assert.Contains((byte)0xE4, File.ReadAllBytes(child));

        AssertSameBytes(expected, ReadGeneration(child), "ours vs qemu before re-encoding");
    }
}
