using System.Buffers.Binary;
using System.Text.Json;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>GPT and MBR tables written by sfdisk, file systems written by their own mkfs.</summary>
public sealed class PartitionTableTests : IDisposable
{
    private readonly TempDirectory _temp = new("mc-parts");
    private string _dir => _temp.Path;
    private string Disk => Path.Combine(_dir, "disk.img");

    public void Dispose() => _temp.Dispose();

    private static JsonElement[] Volumes(string disk)
    {
        var r = MountChainCli.Run("volumes", disk, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("volumes").EnumerateArray().ToArray();
    }

    /// <summary>sfdisk's own view: partition number (from the node name) → (start, size) in bytes.</summary>
    private Dictionary<int, (long Start, long Size)> SfdiskView()
    {
        var doc = JsonDocument.Parse(ProcessRunner.Bash($"sfdisk --json {Disk}"));
        return doc.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray().ToDictionary(
            p => int.Parse(p.GetProperty("node").GetString()![Disk.Length..]),
            p => (p.GetProperty("start").GetInt64() * 512, p.GetProperty("size").GetInt64() * 512));
    }

    /// <summary>Makes a file system in a scratch file and copies it into the disk at the partition's offset.</summary>
    private void Place(long offset, long size, string mkfs)
    {
        string part = Path.Combine(_dir, "part.img");
        ProcessRunner.Bash($"rm -f {part} && truncate -s {size} {part} && {mkfs.Replace("{}", part)} >/dev/null 2>&1 && dd if={part} of={Disk} bs=1M seek={offset} oflag=seek_bytes conv=notrunc,sparse status=none && rm {part}");
    }

    [FileSystemToolsFact("sfdisk", "mkntfs", "mkfs.ext4", "mkswap", "mkfs.vfat")]
    public void Gpt_partitions_follow_entry_order_with_sfdisk_offsets_and_detected_labels()
    {
        ProcessRunner.Bash($"truncate -s 80M {Disk} && printf 'label: gpt\\nsize=20MiB, name=first\\nsize=16MiB\\nsize=8MiB\\nsize=16MiB\\n' | sfdisk -q {Disk}");
        var view = SfdiskView();
        Place(view[1].Start, view[1].Size, "mkntfs -F -Q -L WinData {}");
        Place(view[2].Start, view[2].Size, "mkfs.ext4 -q -F -L linuxroot {}");
        Place(view[3].Start, view[3].Size, "mkswap -L swappy {}");
        Place(view[4].Start, view[4].Size, "mkfs.vfat -n FATVOL {}");
        var vols = Volumes(Disk);
        Assert.Equal(new[] { "p1", "p2", "p3", "p4" }, vols.Select(v => v.GetProperty("name").GetString()));
        foreach (var v in vols)
        {
            int k = int.Parse(v.GetProperty("name").GetString()![1..]);
            Assert.Equal(view[k], (v.GetProperty("offset").GetInt64(), v.GetProperty("sizeBytes").GetInt64()));
            Assert.Equal("gpt", v.GetProperty("scheme").GetString());
        }
        Assert.Equal(("ntfs", "WinData"), Fs(vols[0]));
        Assert.Equal(("ext4", "linuxroot"), Fs(vols[1]));
        Assert.Equal(("swap", "swappy"), Fs(vols[2]));
        Assert.Equal(("vfat", "FATVOL"), Fs(vols[3]));
        Assert.Equal("first", vols[0].GetProperty("partitionLabel").GetString());
        // NTFS, ext4 and FAT are readable: files-hash needs --partition and names them; swap cannot be listed.
        var hash = MountChainCli.Run("files-hash", Disk);
        Assert.Equal(2, hash.ExitCode);
        Assert.Contains("p1, p2", hash.Stderr);
        Assert.Equal(0, MountChainCli.Run("files-hash", Disk, "--partition", "4").ExitCode);
        Assert.Equal(0, MountChainCli.Run("ls", Disk, "p2:/").ExitCode);
        var r = MountChainCli.Run("ls", Disk, "p3:/");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("swap", r.Stderr);
    }

    [FileSystemToolsFact("sfdisk", "mkfs.xfs", "mkfs.ext2", "mkfs.ext3")]
    public void Xfs_ext2_and_ext3_are_told_apart_with_their_labels()
    {
        ProcessRunner.Bash($"truncate -s 400M {Disk} && printf 'label: gpt\\nsize=320MiB\\nsize=16MiB\\nsize=16MiB\\n' | sfdisk -q {Disk}");
        var view = SfdiskView();
        Place(view[1].Start, view[1].Size, "mkfs.xfs -q -f -L xfsdata {}");
        Place(view[2].Start, view[2].Size, "mkfs.ext2 -q -F -L old2 {}");
        Place(view[3].Start, view[3].Size, "mkfs.ext3 -q -F -L old3 {}");
        var vols = Volumes(Disk);
        Assert.Equal([("xfs", "xfsdata"), ("ext2", "old2"), ("ext3", "old3")], vols.Select(Fs));
    }

    [Fact]
    public void A_disk_without_a_partition_table_is_p0_and_unknown_content_is_named_so()
    {
        File.WriteAllBytes(Disk, new byte[1 << 20]);
        var vols = Volumes(Disk);
        var v = Assert.Single(vols);
        Assert.Equal(("p0", "unknown", 0L, 1L << 20), (v.GetProperty("name").GetString(), v.GetProperty("filesystem").GetString(), v.GetProperty("offset").GetInt64(), v.GetProperty("sizeBytes").GetInt64()));
        var r = MountChainCli.Run("ls", Disk, "p1:/");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("p1 does not exist", r.Stderr);
    }

    private static (string, string) Fs(JsonElement v) => (v.GetProperty("filesystem").GetString()!, v.GetProperty("label").GetString()!);

    [FileSystemToolsFact("sfdisk")]
    public void Damaged_primary_gpt_falls_back_to_the_backup_and_both_damaged_is_an_error()
    {
        ProcessRunner.Bash($"truncate -s 32M {Disk} && printf 'label: gpt\\nsize=8MiB\\nsize=8MiB\\n' | sfdisk -q {Disk}");
        var view = SfdiskView();
        NtfsImagePatcher.WriteAt(Disk, 512 + 40, new byte[] { 0x99 }); // primary header: CRC no longer matches
        var vols = Volumes(Disk);
        Assert.Equal(2, vols.Length);
        Assert.Contains("warning", MountChainCli.Run("volumes", Disk).Stderr);
        Assert.Equal(view[2].Start, vols[1].GetProperty("offset").GetInt64());
        long size = new FileInfo(Disk).Length;
        NtfsImagePatcher.WriteAt(Disk, size - 512 + 40, new byte[] { 0x99 }); // and the backup at the last LBA
        var r = MountChainCli.Run("volumes", Disk);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("GPT", r.Stderr);
    }

    [FileSystemToolsFact("sfdisk")]
    public void Gpt_entry_array_with_a_bad_crc_is_not_trusted()
    {
        ProcessRunner.Bash($"truncate -s 32M {Disk} && printf 'label: gpt\\nsize=8MiB\\n' | sfdisk -q {Disk}");
        long size = new FileInfo(Disk).Length;
        NtfsImagePatcher.WriteAt(Disk, 1024 + 32, new byte[] { 0x77 });         // primary entry array
        NtfsImagePatcher.WriteAt(Disk, size - 33 * 512 + 32, new byte[] { 0x77 }); // backup entry array
        var r = MountChainCli.Run("volumes", Disk);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("CRC32", r.Stderr);
    }

    [FileSystemToolsFact("sfdisk", "mkntfs")]
    public void Mbr_primaries_keep_their_slot_and_logicals_start_at_p5()
    {
        ProcessRunner.Bash($"truncate -s 64M {Disk} && printf 'label: dos\\n{Disk}1 : size=8MiB, type=7\\n{Disk}2 : size=40MiB, type=5\\n{Disk}5 : size=8MiB, type=83\\n{Disk}6 : size=8MiB, type=7\\n{Disk}7 : size=8MiB, type=82\\n' | sfdisk -q {Disk}");
        var view = SfdiskView();
        Assert.Equal(new[] { 1, 2, 5, 6, 7 }, view.Keys.Order());
        Place(view[6].Start, view[6].Size, "mkntfs -F -Q -L Logical6 {}");
        var vols = Volumes(Disk);
        Assert.Equal(new[] { "p1", "p2", "p5", "p6", "p7" }, vols.Select(v => v.GetProperty("name").GetString()));
        foreach (var v in vols)
            Assert.Equal(view[int.Parse(v.GetProperty("name").GetString()![1..])], (v.GetProperty("offset").GetInt64(), v.GetProperty("sizeBytes").GetInt64()));
        Assert.Equal("extended", vols[1].GetProperty("filesystem").GetString());
        Assert.Equal(("ntfs", "Logical6"), Fs(vols[3]));
        Assert.Equal(0, MountChainCli.Run("ls", Disk, "p6:/").ExitCode);
    }

    [FileSystemToolsFact("sfdisk")]
    public void Ebr_chain_that_loops_is_refused()
    {
        ProcessRunner.Bash($"truncate -s 64M {Disk} && printf 'label: dos\\n{Disk}1 : size=40MiB, type=5\\n{Disk}5 : size=8MiB\\n{Disk}6 : size=8MiB\\n{Disk}7 : size=8MiB\\n' | sfdisk -q {Disk}");
        var mbr = NtfsImagePatcher.ReadAt(Disk, 0, 512);
        long ext = BinaryPrimitives.ReadUInt32LittleEndian(mbr.AsSpan(446 + 8));
        var ebr1 = NtfsImagePatcher.ReadAt(Disk, ext * 512, 512);
        uint rel2 = BinaryPrimitives.ReadUInt32LittleEndian(ebr1.AsSpan(446 + 16 + 8));
        // The second EBR's link points back at itself.
        var ebr2 = NtfsImagePatcher.ReadAt(Disk, (ext + rel2) * 512, 512);
        BinaryPrimitives.WriteUInt32LittleEndian(ebr2.AsSpan(446 + 16 + 8), rel2);
        ebr2[446 + 16 + 4] = 0x05;
        BinaryPrimitives.WriteUInt32LittleEndian(ebr2.AsSpan(446 + 16 + 12), 2048);
        NtfsImagePatcher.WriteAt(Disk, (ext + rel2) * 512, ebr2);
        string before = Hashing.Sha256File(Disk);
        var r = MountChainCli.Run("volumes", Disk);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("loops", r.Stderr);
        Assert.Equal(before, Hashing.Sha256File(Disk));
    }

    [Fact]
    public void Volume_paths_parse_and_bad_ones_are_usage_errors()
    {
        var r = MountChainCli.Run("ls", "/etc/hostname", "q1:/x");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("pK:/path", r.Stderr);
    }
}
