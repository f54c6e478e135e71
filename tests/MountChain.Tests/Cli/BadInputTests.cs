using System.Text;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cli;

/// <summary>
/// Broken or hostile inputs: exit code 1, one stderr line naming the file and the problem, inputs
/// left byte-identical, bounded time and bounded allocation. Runs the CLI in-process (Console is
/// swapped, so this class runs alone; that also keeps the allocation measurement clean).
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new("badinput");
    private const long AllocationLimit = 64L << 20;

    public void Dispose() => _dir.Dispose();

    private string Base(string name = "base.vmdk", string size = "4M", params string[] writes)
    {
        string path = _dir.File(name);
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", path, size);
        Qemu.Io(_dir.Path, path, writes.Length > 0 ? writes : ["write -q -P 0x21 0 128k", "write -q -P 0x22 1M 64k"]);
        return path;
    }

    private string Child(string parentName, string name, params string[] writes)
    {
        string path = _dir.File(name);
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-b", parentName, "-F", "vmdk", path);
        Qemu.Io(_dir.Path, path, writes.Length > 0 ? writes : ["write -q -P 0x31 64k 64k"]);
        return path;
    }

    /// <summary>Runs the CLI and checks every promise made about bad input; returns stderr.</summary>
    private string AssertRefused(string file, string problem, params string[] args)
    {
        if (args.Length == 0) args = ["hash", file];
        var before = Hashing.Snapshot(_dir.Path);
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var r = MountChainCli.RunInProcess(TimeSpan.FromSeconds(30), args);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;

        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}, stderr: {r.Stderr}");
        string[] lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line, got: {r.Stderr}");
        Assert.StartsWith("mountchain: ", lines[0]);
        Assert.Contains(Path.GetFileName(file), lines[0]);
        Assert.Contains(problem, lines[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("internal error", lines[0]);
        Assert.True(allocated < AllocationLimit, $"allocated {allocated >> 20} MiB for a refused input");
        Assert.Equal(before, Hashing.Snapshot(_dir.Path));
        return lines[0];
    }

    // ---- headers -----------------------------------------------------------------------------

    [Fact]
    public void A_truncated_header_is_refused()
    {
        string path = _dir.File("short.vmdk");
        File.WriteAllBytes(path, "KDMV"u8.ToArray().Concat(new byte[296]).ToArray());
        AssertRefused(path, "too short");
    }

    [QemuFact]
    public void Unknown_incompatible_flags_are_refused()
    {
        string path = Base();
        SparseFileEditor.WriteU32(path, SparseFileEditor.FlagsOffset, SparseFileEditor.ReadU32(path, SparseFileEditor.FlagsOffset) | 0x00040000);
        AssertRefused(path, "incompatible");
    }

    [QemuFact]
    public void A_header_version_above_3_is_refused()
    {
        string path = Base();
        SparseFileEditor.WriteU32(path, SparseFileEditor.VersionOffset, 4);
        AssertRefused(path, "version 4");
    }

    [QemuFact]
    public void Wrong_newline_detection_bytes_are_refused()
    {
        string path = Base();
        SparseFileEditor.WriteByte(path, SparseFileEditor.NewlineOffset + 2, (byte)'\n'); // "\r\n" became "\n\n"
        AssertRefused(path, "newline");
    }

    // ---- grain directory / tables ------------------------------------------------------------

    [QemuFact]
    public void A_grain_directory_past_the_end_of_the_file_is_refused()
    {
        string path = Base();
        SparseFileEditor.WriteU64(path, SparseFileEditor.GdOffsetOffset, 0x7FFFFFFF);
        SparseFileEditor.WriteU64(path, SparseFileEditor.RgdOffsetOffset, 0x7FFFFFFF);
        AssertRefused(path, "past the end");
    }

    [QemuFact]
    public void Grain_directory_entries_past_the_end_of_the_file_are_refused()
    {
        string path = Base();
        long gd = (long)SparseFileEditor.ReadU64(path, SparseFileEditor.GdOffsetOffset);
        long rgd = (long)SparseFileEditor.ReadU64(path, SparseFileEditor.RgdOffsetOffset);
        SparseFileEditor.WriteU32(path, gd * 512, 0x7FFFFFF0);
        SparseFileEditor.WriteU32(path, rgd * 512, 0x7FFFFFF0);
        AssertRefused(path, "past the end");
    }

    [QemuFact]
    public void A_grain_table_entry_past_the_end_of_the_file_is_refused()
    {
        string path = Base();
        SparseFileEditor.WriteU32(path, SparseFileEditor.GteOffset(path, 0, 0), 0x7FFFFFF0);
        AssertRefused(path, "past the end");
    }

    [QemuFact]
    public void A_grain_table_entry_pointing_into_the_metadata_is_refused()
    {
        string path = Base();
        SparseFileEditor.WriteU32(path, SparseFileEditor.GteOffset(path, 0, 0), 5);
        AssertRefused(path, "metadata");
    }

    [QemuFact]
    public void A_grain_table_entry_of_1_without_the_zeroed_grain_flag_is_refused()
    {
        string path = Base();
        SparseFileEditor.WriteU32(path, SparseFileEditor.GteOffset(path, 0, 0), 1);
        AssertRefused(path, "zeroed-grain");
    }

    [QemuFact]
    public void Two_grains_of_one_table_at_the_same_place_are_refused()
    {
        string path = Base();
        uint first = SparseFileEditor.ReadU32(path, SparseFileEditor.GteOffset(path, 0, 0));
        SparseFileEditor.WriteU32(path, SparseFileEditor.GteOffset(path, 0, 1), first);
        AssertRefused(path, "overlap");
    }

    [QemuFact]
    public void Grains_of_different_tables_at_the_same_place_are_reported_by_info()
    {
        string path = Base("wide.vmdk", "64M", "write -q -P 0x41 0 64k", "write -q -P 0x42 40M 64k");
        uint first = SparseFileEditor.ReadU32(path, SparseFileEditor.GteOffset(path, 0, 0));
        SparseFileEditor.WriteU32(path, SparseFileEditor.GteOffset(path, 1, 128), first); // 40 MiB = table 1, entry 128
        var before = Hashing.Snapshot(_dir.Path);
        var r = MountChainCli.RunInProcess("info", path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("overlap", r.Stdout);
        Assert.Contains("wide.vmdk", r.Stdout);
        Assert.Equal(before, Hashing.Snapshot(_dir.Path));
    }

    // ---- 64-bit header fields and table sizes (issue 15) ----------------------------------------

    /// <summary>Byte position of descriptorOffset in the sparse header (format doc §2.1).</summary>
    private const int DescriptorOffsetField = 0x1C;

    [QemuFact]
    public void A_descriptor_offset_that_is_negative_as_64_bits_is_refused_naming_the_field()
    {
        string path = Base();
        SparseFileEditor.WriteU64(path, DescriptorOffsetField, 0xFFFFFFFFFFFFFF00);
        foreach (string command in new[] { "info", "hash", "volumes" })
            AssertRefused(path, "descriptorOffset", command, path);
    }

    [QemuFact]
    public void Directory_offsets_that_are_negative_as_64_bits_are_refused_naming_the_field()
    {
        string path = Base();
        SparseFileEditor.WriteU64(path, SparseFileEditor.GdOffsetOffset, 0x8000000000000010);
        SparseFileEditor.WriteU64(path, SparseFileEditor.RgdOffsetOffset, 0xFFFFFFFFFFFFFFF0);
        AssertRefused(path, "gdOffset");
    }

    [QemuFact]
    public void A_redo_log_whose_redundant_directory_offset_is_negative_is_refused_for_writing()
    {
        string parent = Base();
        string log = _dir.File("log.vmdk");
        Assert.Equal(0, MountChainCli.RunInProcess("create-child", parent, "-g", "0", log).ExitCode);
        SparseFileEditor.WriteU64(log, SparseFileEditor.RgdOffsetOffset, 0xFFFFFFFFFFFFFFF0);
        string input = _dir.File("patch.bin");
        File.WriteAllBytes(input, new byte[4096]);
        AssertRefused(log, "rgdOffset", "write", log, "--offset", "0", "--input", input);
    }

    /// <summary>
    /// A header alone, with 512-byte grains and the grain directory at sector 1, in a sparse file
    /// just long enough to hold that directory: <paramref name="capacitySectors"/>/512 entries.
    /// </summary>
    private string HugeDirectoryImage(long capacitySectors)
    {
        string path = _dir.File($"gd-{capacitySectors}.vmdk");
        long entries = capacitySectors / 512;
        long gdSectors = (entries * 4 + 511) / 512;
        var header = new byte[512];
        "KDMV"u8.CopyTo(header);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(SparseFileEditor.VersionOffset), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(SparseFileEditor.FlagsOffset), 1); // newline detector only
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(SparseFileEditor.CapacityOffset), (ulong)capacitySectors);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(SparseFileEditor.GrainSizeOffset), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(SparseFileEditor.NumGtesOffset), 512);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(SparseFileEditor.GdOffsetOffset), 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(SparseFileEditor.OverHeadOffset), (ulong)(1 + gdSectors));
        "\n \r\n"u8.CopyTo(header.AsSpan(SparseFileEditor.NewlineOffset));
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            file.Write(header);
            file.SetLength((1 + gdSectors) * 512 + 512); // a hole: the directory reads as zeros
        }
        return path;
    }

    [Fact]
    public void A_one_GiB_grain_directory_is_refused_before_it_is_read()
    {
        // 64 TiB with 512-byte grains: 2^28 entries, 1 GiB of directory (qemu: "L1 size too big").
        string path = HugeDirectoryImage(1L << 37);
        foreach (string command in new[] { "info", "hash" })
            AssertRefused(path, "grain directory", command, path);
    }

    [Fact]
    public void A_four_GiB_grain_directory_is_refused_not_overflowed()
    {
        string path = HugeDirectoryImage(1L << 39);
        AssertRefused(path, "grain directory", "info", path);
    }

    // ---- chain -------------------------------------------------------------------------------

    [QemuFact]
    public void A_CID_mismatch_is_refused_and_ignore_cid_reads_the_chain_anyway()
    {
        Base();
        string child = Child("base.vmdk", "c1.vmdk");
        string raw = _dir.File("expected.raw");
        Qemu.ConvertToRaw(child, raw);
        string expected = Hashing.Sha256File(raw);
        File.Delete(raw);
        SparseFileEditor.EditEmbeddedDescriptor(_dir.File("base.vmdk"), t => System.Text.RegularExpressions.Regex.Replace(t, "\nCID=[0-9a-f]+", "\nCID=0abc0def"));

        AssertRefused(child, "parentCID");
        var r = MountChainCli.RunInProcess("hash", "--ignore-cid", child);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(expected, r.Stdout.Split(' ')[0]);
    }

    [QemuFact]
    public void A_parent_of_another_capacity_is_refused()
    {
        Base();
        string child = _dir.File("c1.vmdk");
        Qemu.Img(_dir.Path, "create", "-q", "-f", "vmdk", "-u", "-b", "base.vmdk", "-F", "vmdk", child, "8M");
        AssertRefused(child, "capacity");
    }

    [QemuFact]
    public void A_missing_parent_names_the_hint_and_where_it_looked()
    {
        Base();
        string child = Child("base.vmdk", "c1.vmdk");
        File.Delete(_dir.File("base.vmdk"));
        string line = AssertRefused(child, "not found");
        Assert.Contains("'base.vmdk'", line);
        Assert.Contains("looked in", line);
        Assert.Contains(_dir.File("base.vmdk"), line);
    }

    private static string SetHint(string text, string hint, uint? parentCid = null)
    {
        text = System.Text.RegularExpressions.Regex.Replace(text, "parentFileNameHint=\"[^\"]*\"", $"parentFileNameHint=\"{hint}\"");
        if (parentCid is uint p) text = System.Text.RegularExpressions.Regex.Replace(text, "parentCID=[0-9a-f]+", $"parentCID={p:x8}");
        return text;
    }

    private static uint CidOf(string path) => Convert.ToUInt32(
        System.Text.RegularExpressions.Regex.Match(SparseFileEditor.EmbeddedDescriptor(path), "\nCID=([0-9a-f]+)").Groups[1].Value, 16);

    [QemuFact]
    public void A_link_naming_itself_as_parent_is_refused_as_a_cycle()
    {
        Base();
        string child = Child("base.vmdk", "c1.vmdk");
        SparseFileEditor.EditEmbeddedDescriptor(child, t => SetHint(t, "c1.vmdk", CidOf(child)));
        AssertRefused(child, "cycle");
    }

    [QemuFact]
    public void Two_links_naming_each_other_as_parent_are_refused_as_a_cycle()
    {
        Base();
        string a = Child("base.vmdk", "a.vmdk");
        string b = Child("base.vmdk", "b.vmdk");
        uint cidA = CidOf(a), cidB = CidOf(b);
        SparseFileEditor.EditEmbeddedDescriptor(a, t => SetHint(t, "b.vmdk", cidB));
        SparseFileEditor.EditEmbeddedDescriptor(b, t => SetHint(t, "a.vmdk", cidA));
        AssertRefused(a, "cycle");
    }

    [QemuFact]
    public void A_hint_naming_a_directory_is_refused()
    {
        Base();
        string child = Child("base.vmdk", "c1.vmdk");
        Directory.CreateDirectory(_dir.File("sub"));
        SparseFileEditor.EditEmbeddedDescriptor(child, t => SetHint(t, "sub"));
        AssertRefused(child, "directory");
    }

    [QemuFact]
    public void A_hint_naming_a_device_is_refused()
    {
        Base();
        string child = Child("base.vmdk", "c1.vmdk");
        SparseFileEditor.EditEmbeddedDescriptor(child, t => SetHint(t, "/dev/null"));
        AssertRefused(child, "device");
    }

    // ---- descriptors -------------------------------------------------------------------------

    private string FlatDisk(string descriptorName, string descriptorText)
    {
        File.WriteAllBytes(_dir.File("d-flat.vmdk"), new byte[1 << 20]);
        string path = _dir.File(descriptorName);
        File.WriteAllText(path, descriptorText);
        return path;
    }

    private const string GoodDescriptor = "# Disk DescriptorFile\nversion=1\nCID=0badf00d\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n# Extent description\nRW 2048 FLAT \"d-flat.vmdk\" 0\n";

    [Fact]
    public void A_descriptor_full_of_binary_garbage_is_refused()
    {
        string path = FlatDisk("garbage.vmdk", "");
        var bytes = Encoding.ASCII.GetBytes("# Disk DescriptorFile\nversion=1\n").Concat(Enumerable.Range(0, 2000).Select(i => (byte)(i * 37 % 255 + 1))).ToArray();
        File.WriteAllBytes(path, bytes);
        AssertRefused(path, "binary");
    }

    [Fact]
    public void A_descriptor_larger_than_64_KiB_is_refused()
    {
        string path = FlatDisk("huge.vmdk", GoodDescriptor + string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding padding\n", 1300)));
        Assert.True(new FileInfo(path).Length > 64 << 10);
        AssertRefused(path, "limit");
    }

    [Fact]
    public void A_descriptor_with_a_duplicate_key_is_refused()
    {
        string path = FlatDisk("dup.vmdk", GoodDescriptor.Replace("CID=0badf00d\n", "CID=0badf00d\nCID=12345678\n"));
        AssertRefused(path, "duplicate");
    }

    [Fact]
    public void A_flat_extent_shorter_than_its_line_is_refused()
    {
        string path = FlatDisk("short-flat.vmdk", GoodDescriptor.Replace("RW 2048", "RW 4096"));
        AssertRefused(_dir.File("d-flat.vmdk"), "needs", "hash", path);
    }

    // ---- absurd sizes ------------------------------------------------------------------------

    private string HandBuilt(string name, Action<SparseImageBuilder>? fill = null, bool stream = false)
    {
        long sectors = 128 * 16;
        var b = new SparseImageBuilder
        {
            CapacitySectors = sectors, StreamOptimized = stream, Version = stream ? 3u : 1u, Flags = stream ? 0x30001u : 0x3u,
            Descriptor = SparseImageBuilder.BaseDescriptor(name, sectors, stream ? "streamOptimized" : "monolithicSparse"),
        };
        b.Grains[0] = Enumerable.Range(0, 65536).Select(i => (byte)(i * 7)).ToArray();
        fill?.Invoke(b);
        string path = _dir.File(name);
        b.WriteTo(path);
        return path;
    }

    [Fact]
    public void A_capacity_of_2_to_the_40_sectors_does_not_allocate_its_grain_directory()
    {
        string path = HandBuilt("vast.vmdk");
        SparseFileEditor.WriteU64(path, SparseFileEditor.CapacityOffset, 1UL << 40);
        SparseFileEditor.EditEmbeddedDescriptor(path, t => t.Replace("RW 2048 SPARSE", $"RW {1L << 40} SPARSE"));
        AssertRefused(path, "vast.vmdk");
    }

    [Fact]
    public void A_grain_directory_with_a_billion_entries_is_not_allocated()
    {
        string path = HandBuilt("manytables.vmdk");
        SparseFileEditor.WriteU32(path, SparseFileEditor.NumGtesOffset, 1);
        SparseFileEditor.WriteU64(path, SparseFileEditor.GrainSizeOffset, 1);
        SparseFileEditor.WriteU64(path, SparseFileEditor.CapacityOffset, 1UL << 30);
        SparseFileEditor.EditEmbeddedDescriptor(path, t => t.Replace("RW 2048 SPARSE", $"RW {1L << 30} SPARSE"));
        AssertRefused(path, "manytables.vmdk");
    }

    [Fact]
    public void A_compressed_grain_claiming_4_GiB_is_refused_without_allocating_it()
    {
        string path = HandBuilt("bigmarker.vmdk", stream: true);
        SparseFileEditor.WriteU32(path, 21 * 512 + 8, 0xFFFFFFF0); // the first grain marker's size
        AssertRefused(path, "compressed");
    }

    // ---- usage -------------------------------------------------------------------------------

    [QemuFact]
    public void Usage_errors_exit_2()
    {
        string path = Base();
        var unknown = MountChainCli.RunInProcess("hash", "--no-such-option", path);
        Assert.Equal(2, unknown.ExitCode);
        Assert.StartsWith("mountchain: ", unknown.Stderr);

        var generation = MountChainCli.RunInProcess("hash", "-g", "7", path);
        Assert.Equal(2, generation.ExitCode);
        Assert.Contains("generation 7", generation.Stderr);

        var missingArgument = MountChainCli.RunInProcess("hash");
        Assert.Equal(2, missingArgument.ExitCode);

        Child("base.vmdk", "c1.vmdk");
        var backwards = MountChainCli.RunInProcess("changed", "--from", "1", "--to", "0", _dir.File("c1.vmdk"));
        Assert.Equal(2, backwards.ExitCode);
    }

    [Fact]
    public void A_missing_input_file_exits_1_naming_it()
    {
        AssertRefused(_dir.File("nowhere.vmdk"), "no such file");
    }
}
