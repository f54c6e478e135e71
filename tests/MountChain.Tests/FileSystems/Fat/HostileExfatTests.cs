using System.Diagnostics;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Exfat;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// Damaged exFAT volumes made by mkfs.exfat and filled through exfat-fuse: bad boot, set and
/// up-case checksums, name hashes, FAT loops, directory cycles and absurd lengths end in one error
/// line naming the volume, path and structure, quickly, within 64 MiB, without writing the image.
/// A damaged main boot region with a good backup still opens, as the spec intends.
/// </summary>
public sealed class HostileExfatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-exfat-hostile-").FullName;
    private string Image => Path.Combine(_dir, "exfat.img");

    public void Dispose()
    {
        foreach (var m in File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(_dir, StringComparison.Ordinal)))
            ProcessRunner.Run("umount", "-l", m);
        Directory.Delete(_dir, true);
    }

    private void Fresh()
    {
        ProcessRunner.Bash($"truncate -s 16M {Image} && mkfs.exfat -L Hostile {Image} >/dev/null");
        using var m = new ExfatFuseMount(Image, 0, new FileInfo(Image).Length, Path.Combine(_dir, "mnt"));
        m.Run("""
            mkdir -p Outer/Inner; echo named > Outer/name.txt
            for i in $(seq 1 20); do head -c 4096 /dev/urandom >> chained.bin; head -c 4096 /dev/urandom >> other.bin; done
            head -c 100000 /dev/urandom > contiguous.bin
            """);
    }

    private ExfatFileSystem Open() => new(new RawFileBlockDevice(Image));

    /// <summary>Byte position of an entry's File entry (the reader's id is position / 32); its stream extension follows.</summary>
    private long FileEntryAt(string path)
    {
        using var fs = Open();
        return (long)(fs.Lookup(path) ?? throw new InvalidOperationException(path)).Id * 32;
    }

    private int SectorShift => ImageBytes.Read(Image, 108, 1)[0];
    private long FatOffset => (long)ImageBytes.U32(Image, 80) << SectorShift;
    private uint StreamFirstCluster(long fileEntry) => ImageBytes.U32(Image, fileEntry + 32 + 20);

    private void AssertRefused(string[] fragments, params string[] command)
    {
        string before = Hashing.Sha256File(Image);
        var clock = Stopwatch.StartNew();
        var r = MountChainCli.Run(command);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mountchain: ", line);
        Assert.DoesNotContain("internal error", line);
        foreach (var f in fragments) Assert.Contains(f, line);
        Assert.Equal(before, Hashing.Sha256File(Image));
    }

    private void AssertCorrupt(string fragment)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<FileSystemCorruptException>(() =>
        {
            using var fs = Open();
            foreach (var entry in MountChain.FileSystems.Operations.TreeWalker.Walk(fs, fs.Root, recursive: true))
                if (entry.Type == FsEntryType.File) MountChain.FileSystems.Operations.FileContent.Sha256(fs, entry);
        });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 64 << 20, "allocated over 64 MiB");
        Assert.Contains(fragment, e.Message);
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void A_bad_main_boot_checksum_falls_back_to_the_backup_and_both_bad_is_refused()
    {
        Fresh();
        ImageBytes.Write(Image, 200, [0x5A]); // boot code of the main boot sector
        var r = MountChainCli.Run("files-hash", Image, "--partition", "0");
        Assert.True(r.ExitCode == 0, r.Stderr);
        ImageBytes.Write(Image, (12L << SectorShift) + 200, [0x5A]);
        AssertRefused(["exFAT p0", "boot region checksum mismatch"], "ls", Image, "p0:/");
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void A_bad_up_case_table_checksum_is_refused()
    {
        Fresh();
        long rootCluster = ImageBytes.U32(Image, 96);
        long heap = (long)ImageBytes.U32(Image, 88) << SectorShift;
        long clusterSize = 1L << (SectorShift + ImageBytes.Read(Image, 109, 1)[0]);
        long root = heap + (rootCluster - 2) * clusterSize;
        long upcase = Enumerable.Range(0, (int)(clusterSize / 32)).Select(i => root + i * 32L).First(p => ImageBytes.Read(Image, p, 1)[0] == 0x82);
        ImageBytes.PutU32(Image, upcase + 4, ImageBytes.U32(Image, upcase + 4) ^ 0x1000);
        AssertRefused(["exFAT p0", "up-case table checksum mismatch"], "ls", Image, "p0:/");
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void A_fat_chain_loop_in_a_fragmented_file_is_refused()
    {
        Fresh();
        uint first = StreamFirstCluster(FileEntryAt("/chained.bin"));
        Assert.Equal(0, ImageBytes.Read(Image, FileEntryAt("/chained.bin") + 33, 1)[0] & 2); // interleaved appends: FAT-chained, not contiguous
        uint second = ImageBytes.U32(Image, FatOffset + 4L * first);
        ImageBytes.PutU32(Image, FatOffset + 4L * second, first);
        AssertRefused(["exFAT p0", "/chained.bin", $"cluster chain from {first} loops"], "files-hash", Image, "--partition", "0");
        AssertCorrupt("loops");
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void A_directory_pointing_at_its_parent_is_a_cycle_not_a_hang()
    {
        Fresh();
        long outer = FileEntryAt("/Outer"), inner = FileEntryAt("/Outer/Inner");
        ImageBytes.PutU32(Image, inner + 32 + 20, StreamFirstCluster(outer));
        ImageBytes.FixSetChecksum(Image, inner);
        AssertRefused(["exFAT p0", "directory /Outer", "Inner", "loops"], "ls", Image, "p0:/", "-r");
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void Absurd_lengths_are_refused_without_allocating_them()
    {
        Fresh();
        long at = FileEntryAt("/contiguous.bin");
        ImageBytes.PutU64(Image, at + 32 + 8, 1UL << 50);  // ValidDataLength
        ImageBytes.PutU64(Image, at + 32 + 24, 1UL << 50); // DataLength
        ImageBytes.FixSetChecksum(Image, at);
        AssertRefused(["exFAT p0", "/contiguous.bin", "outside the"], "cat-file", Image, "p0:/contiguous.bin");
        AssertCorrupt("/contiguous.bin");
        ImageBytes.PutU64(Image, at + 32 + 8, 1UL << 51); // ValidDataLength above DataLength
        ImageBytes.FixSetChecksum(Image, at);
        AssertRefused(["ValidDataLength"], "ls", Image, "p0:/");
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void A_contiguous_file_reads_without_its_fat_chain_and_a_stale_entry_set_checksum_is_refused()
    {
        Fresh();
        long at = FileEntryAt("/contiguous.bin");
        Assert.NotEqual(0, ImageBytes.Read(Image, at + 33, 1)[0] & 2); // NoFatChain: exfat-fuse wrote it contiguously
        var before = MountChainCli.Run("cat-file", Image, "p0:/contiguous.bin");
        Assert.True(before.ExitCode == 0, before.Stderr);
        // A NoFatChain file's FAT entries mean nothing: garbage there must not change what is read.
        ImageBytes.PutU32(Image, FatOffset + 4L * StreamFirstCluster(at), 0xFFFFFFF7); // "bad cluster"
        Assert.Equal(before.StdoutBytes, MountChainCli.Run("cat-file", Image, "p0:/contiguous.bin").StdoutBytes);
        ImageBytes.Write(Image, at + 64 + 2, [(byte)'X']); // first character of the name, SetChecksum left stale
        AssertRefused(["exFAT p0", "SetChecksum mismatch"], "ls", Image, "p0:/");
    }

    [FileSystemToolsFact("mkfs.exfat", "mount.exfat-fuse", "losetup", NeedsRootAndFuse = true)]
    public void Bytes_past_valid_data_length_read_as_zeros_and_stay_holes_on_extract()
    {
        Fresh();
        long at = FileEntryAt("/contiguous.bin");
        ImageBytes.PutU64(Image, at + 32 + 8, 40000);
        ImageBytes.FixSetChecksum(Image, at);
        var content = MountChainCli.Run("cat-file", Image, "p0:/contiguous.bin");
        Assert.True(content.ExitCode == 0, content.Stderr);
        Assert.Equal(100000, content.StdoutBytes.Length);
        Assert.Contains(content.StdoutBytes.Take(40000), b => b != 0);
        Assert.All(content.StdoutBytes.Skip(40000), b => Assert.Equal(0, b));
        string target = Path.Combine(_dir, "out");
        Assert.Equal(0, MountChainCli.Run("extract", Image, "p0:/contiguous.bin", target).ExitCode);
        Assert.Equal(content.StdoutBytes, File.ReadAllBytes(Path.Combine(target, "contiguous.bin")));
        long allocatedKiB = long.Parse(ProcessRunner.Bash($"du -k '{target}/contiguous.bin' | cut -f1"));
        Assert.True(allocatedKiB < 90, $"{allocatedKiB} KiB allocated: the zero tail was written");
    }
}
