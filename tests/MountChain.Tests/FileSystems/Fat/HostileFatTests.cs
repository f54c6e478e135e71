using System.Diagnostics;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Fat;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// Damaged FAT16 volumes made by mkfs.fat and mtools: loops, cross-links, directory cycles and
/// absurd boot sectors end in one error line naming the volume, path and structure, quickly,
/// within 64 MiB of allocation, without writing to the image. Orphan long names are not errors.
/// </summary>
public sealed class HostileFatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mc-fat-hostile-").FullName;
    private string Image => Path.Combine(_dir, "fat16.img");
    public void Dispose() => Directory.Delete(_dir, true);

    private const int Sector = 512;

    private void Fresh()
    {
        ProcessRunner.Bash($"""
            export MTOOLS_SKIP_CHECK=1; truncate -s 16M {Image} && mkfs.fat -F 16 -n HOSTILE {Image} >/dev/null
            head -c 40000 /dev/urandom > a.bin; head -c 30000 /dev/urandom > b.bin; echo long > 'A long name.txt'
            mmd -i {Image} ::/LOOPDIR ::/LOOPDIR/INNER; mcopy -i {Image} a.bin ::/A.BIN; mcopy -i {Image} b.bin ::/B.BIN; mcopy -i {Image} 'A long name.txt' ::/
            """, _dir);
    }

    private FsEntry Entry(string path)
    {
        using var fs = new FatFileSystem(new RawFileBlockDevice(Image));
        return fs.Lookup(path) ?? throw new InvalidOperationException(path);
    }

    /// <summary>Byte position of an entry's 32-byte 8.3 entry (the reader's id is position / 32).</summary>
    private long EntryAt(string path) => (long)Entry(path).Id * 32;
    private ushort FirstCluster(string path) => ImageBytes.U16(Image, EntryAt(path) + 26);
    private long FatEntry(uint cluster) => ImageBytes.U16(Image, 0x0E) * Sector + 2L * cluster;

    private uint LastCluster(uint first)
    {
        uint c = first;
        for (uint next; (next = ImageBytes.U16(Image, FatEntry(c))) < 0xFFF8; c = next) { }
        return c;
    }

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

    private static void AssertCorrupt(Action action, string fragment)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<FileSystemCorruptException>(action);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 64 << 20, "allocated over 64 MiB");
        Assert.Contains(fragment, e.Message);
    }

    private void HashAll()
    {
        using var fs = new FatFileSystem(new RawFileBlockDevice(Image));
        foreach (var e in MountChain.FileSystems.Operations.TreeWalker.Walk(fs, fs.Root, recursive: true))
            if (e.Type == FsEntryType.File) MountChain.FileSystems.Operations.FileContent.Sha256(fs, e);
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd")]
    public void A_cluster_chain_that_loops_back_is_refused_naming_volume_path_and_chain()
    {
        Fresh();
        uint first = FirstCluster("/A.BIN");
        ImageBytes.PutU16(Image, FatEntry(LastCluster(first)), (ushort)first);
        AssertRefused(["FAT16 p0", "/A.BIN", $"cluster chain from {first} loops"], "files-hash", Image, "--partition", "0");
        AssertCorrupt(HashAll, "loops");
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd")]
    public void Cross_linked_files_are_refused()
    {
        Fresh();
        uint a = FirstCluster("/A.BIN"), b = FirstCluster("/B.BIN");
        ImageBytes.PutU16(Image, FatEntry(LastCluster(a)), (ushort)b); // A's chain runs on into B's clusters
        AssertRefused(["FAT16 p0", "cross-linked", $"both end at cluster {LastCluster(b)}"], "files-hash", Image, "--partition", "0");
        AssertCorrupt(HashAll, "cross-linked");
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd")]
    public void A_directory_that_contains_its_parent_is_a_cycle_not_a_hang()
    {
        Fresh();
        ushort parent = FirstCluster("/LOOPDIR");
        ImageBytes.PutU16(Image, EntryAt("/LOOPDIR/INNER") + 26, parent);
        AssertRefused(["FAT16 p0", "directory /LOOPDIR", "INNER", "loops"], "ls", Image, "p0:/", "-r");
        AssertRefused(["loops"], "extract", Image, "p0:/", Path.Combine(_dir, "out"));
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd")]
    public void A_chain_into_a_free_cluster_or_outside_the_volume_is_refused()
    {
        Fresh();
        uint first = FirstCluster("/A.BIN");
        ImageBytes.PutU16(Image, FatEntry(first), 0);
        AssertRefused(["/A.BIN", "is free"], "cat-file", Image, "p0:/a.bin");
        ImageBytes.PutU16(Image, FatEntry(first), 0xFFF0);
        AssertRefused(["/A.BIN", "outside the volume"], "cat-file", Image, "p0:/a.bin");
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd")]
    public void Absurd_boot_sector_counts_are_refused_without_allocating_them()
    {
        Fresh();
        var sector = ImageBytes.Read(Image, 0, Sector);
        ImageBytes.PutU16(Image, 0x16, 0xFFFF); // sectors per FAT: far more than the volume has
        AssertRefused(["FAT p0", "boot sector field total sectors"], "ls", Image, "p0:/");
        ImageBytes.Write(Image, 0, sector);
        ImageBytes.PutU16(Image, 0x13, 0);
        ImageBytes.PutU32(Image, 0x20, 0xFFFFFFF0); // total sectors: 2 TiB on a 16 MiB image
        AssertRefused(["FAT p0", "larger than its"], "ls", Image, "p0:/");
        ImageBytes.Write(Image, 0, sector);
        ImageBytes.Write(Image, 0x0D, [3]); // sectors per cluster: not a power of two
        AssertRefused(["sectors per cluster = 3"], "ls", Image, "p0:/");
        ImageBytes.Write(Image, 0, sector);
        ImageBytes.PutU32(Image, EntryAt("/A.BIN") + 28, 0xFFFFFFFF); // a 4 GiB size on a 40 KB chain
        AssertRefused(["/A.BIN", "ends after"], "cat-file", Image, "p0:/A.BIN");
    }

    [FileSystemToolsFact("mkfs.fat", "mcopy", "mmd", "mdir")]
    public void An_orphan_long_name_is_ignored_and_the_short_name_shown_as_mtools_does()
    {
        Fresh();
        long shortEntry = EntryAt("/A long name.txt");
        var lfn = ImageBytes.Read(Image, shortEntry - 32, 32);
        Assert.Equal(0x0F, lfn[11]);
        lfn[13] ^= 0x5A; // the checksum no longer matches the 8.3 name
        ImageBytes.Write(Image, shortEntry - 32, lfn);
        var theirs = ProcessRunner.Bash($"MTOOLS_SKIP_CHECK=1 mdir -/ -b -a -i {Image} ::/").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[2..].TrimEnd('/')).Order(StringComparer.Ordinal);
        var ours = MountChainCli.Run("ls", Image, "p0:/", "-r");
        Assert.True(ours.ExitCode == 0, ours.Stderr);
        Assert.Equal(theirs, ours.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Contains("/ALONGN~1.TXT", ours.Stdout);
    }
}
