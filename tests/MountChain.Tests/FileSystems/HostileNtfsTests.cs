using System.Buffers.Binary;
using System.Diagnostics;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>Damaged NTFS structures end in one clear error line, quickly, without writing to the image.</summary>
public sealed class HostileNtfsTests : IDisposable
{
    private readonly TempDirectory _temp = new("mc-ntfs-hostile");
    private string _dir => _temp.Path;
    private string Image => Path.Combine(_dir, "ntfs.img");

    public void Dispose() => _temp.Dispose();

    private NtfsImagePatcher Fresh()
    {
        ProcessRunner.Bash($"truncate -s 16M {Image} && mkntfs -F -Q {Image} >/dev/null 2>&1");
        return new NtfsImagePatcher(Image);
    }

    private void AssertRefused(string expectedFragment, params string[] command)
    {
        string before = Hashing.Sha256File(Image);
        var clock = Stopwatch.StartNew();
        var r = MountChainCli.Run(command);
        clock.Stop();
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("mountchain: ", lines[0]);
        Assert.Contains(expectedFragment, lines[0]);
        Assert.DoesNotContain("internal error", lines[0]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(before, Hashing.Sha256File(Image));
    }

    [FileSystemToolsFact("mkntfs")]
    public void A_fresh_mkntfs_volume_lists_cleanly()
    {
        Fresh();
        var r = MountChainCli.Run("ls", Image, "p0:/");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("", r.Stdout); // only metadata files, which are hidden
        r = MountChainCli.Run("volumes", Image, "--json");
        Assert.Contains("\"filesystem\": \"ntfs\"", r.Stdout);
    }

    [FileSystemToolsFact("mkntfs")]
    public void Torn_mft_record_is_refused_naming_the_record()
    {
        var ntfs = Fresh();
        // The last two bytes of the record's first sector no longer match the update sequence number.
        long at = ntfs.RecordOffset(5) + 510;
        var b = NtfsImagePatcher.ReadAt(Image, at, 2);
        b[0] ^= 0xFF;
        NtfsImagePatcher.WriteAt(Image, at, b);
        AssertRefused("MFT record 5", "ls", Image, "p0:/");
        AssertRefused("update sequence mismatch", "files-hash", Image, "--partition", "0");
    }

    [FileSystemToolsFact("mkntfs")]
    public void Runlist_pointing_past_the_disk_is_refused()
    {
        var ntfs = Fresh();
        int attr = ntfs.AttributeOffset(0, 0x80);
        var rec = NtfsImagePatcher.ReadAt(Image, ntfs.RecordOffset(0), ntfs.RecordSize);
        int mpo = attr + BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(attr + 0x20));
        int h = rec[mpo], lenBytes = h & 0xF;
        int attrLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(rec.AsSpan(attr + 4));
        Assert.True(attr + attrLength - mpo >= 1 + lenBytes + 4 + 1, "room for a 4-byte LCN");
        // Rewrite the first run with a 4-byte LCN of 0x7FFFFFFF (far past a 16 MiB volume), then end the list.
        rec[mpo] = (byte)(0x40 | lenBytes);
        BinaryPrimitives.WriteInt32LittleEndian(rec.AsSpan(mpo + 1 + lenBytes), int.MaxValue);
        rec[mpo + 1 + lenBytes + 4] = 0;
        NtfsImagePatcher.WriteAt(Image, ntfs.RecordOffset(0), rec);
        AssertRefused("points past", "ls", Image, "p0:/");
    }

    [FileSystemToolsFact("mkntfs")]
    public void Absurd_data_size_is_refused()
    {
        var ntfs = Fresh();
        int attr = ntfs.AttributeOffset(0, 0x80);
        var size = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(size, long.MaxValue / 2);
        NtfsImagePatcher.WriteAt(Image, ntfs.RecordOffset(0) + attr + 0x30, size);
        AssertRefused("sizes are inconsistent", "ls", Image, "p0:/");
    }

    [FileSystemToolsFact("mkntfs")]
    public void Directory_index_that_loops_is_refused()
    {
        var ntfs = Fresh();
        // The root's first INDX block (VCN 0): make its last entry point down to VCN 0 again.
        long blockAt = ntfs.FirstLcn(5, ntfs.AttributeOffset(5, 0xA0)) * ntfs.ClusterSize;
        var block = NtfsImagePatcher.ReadAt(Image, blockAt, 4096);
        Assert.Equal("INDX"u8.ToArray(), block[..4]);
        NtfsImagePatcher.Fixups(block, protect: false);
        const int header = 0x18;
        int entries = header + (int)BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(header));
        int used = header + (int)BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(header + 4));
        int off = entries;
        while ((BinaryPrimitives.ReadUInt16LittleEndian(block.AsSpan(off + 0x0C)) & 2) == 0)
            off += BinaryPrimitives.ReadUInt16LittleEndian(block.AsSpan(off + 8));
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(off + 8), 24);  // length: header + sub-node VCN
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(off + 0x0C), 3); // last | has sub-node
        BinaryPrimitives.WriteInt64LittleEndian(block.AsSpan(off + 16), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(header + 4), (uint)(used + 8 - header));
        NtfsImagePatcher.Fixups(block, protect: true);
        NtfsImagePatcher.WriteAt(Image, blockAt, block);
        AssertRefused("loops", "ls", Image, "p0:/", "-r");
    }

    [FileSystemToolsFact("mkntfs", "ntfs-3g", NeedsRootAndFuse = true)]
    public void Directory_entry_pointing_at_its_own_directory_is_refused_by_ls_hash_and_extract()
    {
        var ntfs = Fresh();
        string mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"ntfs-3g {Image} {mnt} && mkdir -p {mnt}/sub/inner && echo x > {mnt}/sub/file && umount {mnt}");
        var root = MountChainCli.Run("ls", Image, "p0:/", "--json");
        ulong sub = System.Text.Json.JsonDocument.Parse(root.Stdout).RootElement.GetProperty("entries").EnumerateArray()
            .Single(e => e.GetProperty("name").GetString() == "sub").GetProperty("id").GetUInt64();
        // In sub's $INDEX_ROOT, the entry "inner" now names sub itself.
        var rec = NtfsImagePatcher.ReadAt(Image, ntfs.RecordOffset((int)sub), ntfs.RecordSize);
        NtfsImagePatcher.Fixups(rec, protect: false);
        int key = rec.AsSpan().IndexOf(System.Text.Encoding.Unicode.GetBytes("inner"));
        Assert.True(key > 0);
        int entry = key - 0x42 - 0x10;
        ushort seq = BinaryPrimitives.ReadUInt16LittleEndian(rec.AsSpan(0x10));
        BinaryPrimitives.WriteUInt64LittleEndian(rec.AsSpan(entry), sub | (ulong)seq << 48);
        NtfsImagePatcher.Fixups(rec, protect: true);
        NtfsImagePatcher.WriteAt(Image, ntfs.RecordOffset((int)sub), rec);
        AssertRefused("the tree loops", "ls", Image, "p0:/", "-r");
        AssertRefused("the tree loops", "files-hash", Image);
        AssertRefused("the tree loops", "extract", Image, "p0:/", Path.Combine(_dir, "out"));
    }

    [FileSystemToolsFact("mkntfs")]
    public void Broken_boot_sector_geometry_is_refused()
    {
        Fresh();
        NtfsImagePatcher.WriteAt(Image, 0x0D, new byte[] { 3 }); // 3 sectors per cluster: not a power of two
        var r = MountChainCli.Run("ls", Image, "p0:/");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("sectors per cluster", r.Stderr);
    }
}
