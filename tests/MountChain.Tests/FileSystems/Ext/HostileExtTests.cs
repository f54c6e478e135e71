using System.Diagnostics;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Ext;
using MountChain.FileSystems.Operations;
using MountChain.Tests.FileSystems.Fat;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems.Ext;

/// <summary>
/// Damaged copies of the kernel-populated ext4 image: a loop in a depth-2 extent tree, a directory
/// entry naming its ancestor, blocks shared inside one file, absurd superblock, extent and size
/// fields, bad metadata checksums. Each ends in one error line naming the volume, the path and the
/// structure, quickly, within 64 MiB of allocation, without writing to the image; a checksum
/// mismatch is a warning unless --strict-checksums.
/// </summary>
[Collection(ExtKernelImageCollection.Name)]
public sealed class HostileExtTests(ExtKernelImage images)
{
    private string Copy(string name) => images.CopyImage("ext4", name);

    /// <summary>The command fails with one error line (after any warnings) holding every fragment; the image is unchanged.</summary>
    private static void AssertRefused(string image, string[] fragments, params string[] command)
    {
        string before = Hashing.Sha256File(image);
        var clock = Stopwatch.StartNew();
        var r = MountChainCli.Run(command);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}: {r.Stderr}");
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines[..^1], l => Assert.StartsWith("mountchain: warning: ", l));
        string error = lines[^1];
        Assert.StartsWith("mountchain: ", error);
        Assert.DoesNotContain("internal error", error);
        foreach (var f in fragments) Assert.Contains(f, error);
        Assert.Equal(before, Hashing.Sha256File(image));
    }

    /// <summary>The reader itself refuses within 64 MiB of allocation.</summary>
    private static void AssertCorrupt(string image, Action<ExtFileSystem> action, string fragment)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<FileSystemCorruptException>(() =>
        {
            using var fs = ExtFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true, volumeName: "p0");
            action(fs);
        });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 64 << 20, "allocated over 64 MiB");
        Assert.Contains(fragment, e.Message);
    }

    private static void HashAll(ExtFileSystem fs)
    {
        foreach (var e in TreeWalker.Walk(fs, fs.Root, recursive: true))
            if (e.Type == FsEntryType.File) FileContent.Sha256(fs, e);
    }

    [ExtRootFact]
    public void A_loop_in_a_depth_two_extent_tree_is_refused_naming_volume_path_and_block()
    {
        string image = Copy("extent-loop.img");
        long index = ExtImageMap.ExtentTreeBlock(image, "/sparse/many", 0);
        ExtImageMap.ExtentTreeBlock(image, "/sparse/many", 1); // a leaf below the index block: depth 2
        int bs = ExtImageMap.BlockSize(image);
        ImageBytes.PutU32(image, index * bs + 12 + 4, (uint)index); // first index entry points at its own block
        AssertRefused(image, ["p0:/sparse/many", $"extent block {index}", "depth 1 is wrong"], "cat-file", image, "p0:/sparse/many");
        AssertCorrupt(image, fs => fs.Read(fs.Lookup("/sparse/many")!, new byte[4096], 0), $"extent block {index}");
        AssertRefused(image, ["p0:/sparse/many", "loops"], "files-hash", image, "--partition", "0");
    }

    [ExtRootFact]
    public void A_directory_entry_naming_its_ancestor_is_a_cycle_not_a_hang()
    {
        string image = Copy("dir-cycle.img");
        int bs = ExtImageMap.BlockSize(image);
        long block = ExtImageMap.FirstBlock(image, "/dirs/few");
        uint parent = ExtImageMap.InodeNumber(image, "/dirs");
        var data = ImageBytes.Read(image, block * bs, bs);
        int at = Encoding.ASCII.GetString(data).IndexOf("n1", StringComparison.Ordinal) - 8; // the entry header precedes its name
        Assert.True(at >= 0 && data[at + 6] == 2, "entry n1 in /dirs/few");
        ImageBytes.PutU32(image, block * bs + at, parent);
        ImageBytes.Write(image, block * bs + at + 7, [2]); // EXT4_FT_DIR
        AssertRefused(image, ["p0:/dirs/few", "loops back to ancestor inode"], "ls", image, "p0:/dirs", "-r");
        AssertRefused(image, ["p0:/dirs/few", "loops back"], "extract", image, "p0:/dirs", Path.Combine(images.WorkDir, "cycle-out"));
        AssertCorrupt(image, HashAll, "loops back");
    }

    [ExtRootFact]
    public void Blocks_shared_inside_one_file_are_refused()
    {
        string image = Copy("shared.img");
        int bs = ExtImageMap.BlockSize(image);
        long leaf = ExtImageMap.ExtentTreeBlock(image, "/sparse/many", 1) * bs;
        // Second extent of the leaf starts where the first does (ee_start_lo at +8 of each 12-byte entry).
        ImageBytes.PutU32(image, leaf + 24 + 8, ImageBytes.U32(image, leaf + 12 + 8));
        AssertRefused(image, ["p0:/sparse/many", "share disk block"], "cat-file", image, "p0:/sparse/many");
    }

    [ExtRootFact]
    public void Absurd_counts_and_sizes_are_refused_without_allocating_them()
    {
        string image = Copy("absurd.img");
        var superblock = ImageBytes.Read(image, 1024, 1024);
        ImageBytes.PutU32(image, 1024 + 0x28, 0xFFFFFFFF); // s_inodes_per_group
        AssertRefused(image, ["p0", "ext superblock", "inodes per group"], "ls", image, "p0:/");
        ImageBytes.Write(image, 1024, superblock);
        ImageBytes.PutU32(image, 1024 + 0x4, 0xFFFFFFF0); // s_blocks_count_lo: far beyond the image
        AssertRefused(image, ["p0", "do not fit"], "ls", image, "p0:/");
        ImageBytes.Write(image, 1024, superblock);

        long tiny = ExtImageMap.InodeOffset(image, "/tiny");
        ImageBytes.PutU16(image, tiny + 0x28 + 2, 0xFFFF); // eh_entries of the inode's extent root
        AssertRefused(image, ["p0:/tiny", "extent tree root", "do not fit the node"], "cat-file", image, "p0:/tiny");
        AssertCorrupt(image, fs => fs.Read(fs.Lookup("/tiny")!, new byte[16], 0), "do not fit the node");

        long dir = ExtImageMap.InodeOffset(image, "/dirs/few");
        ImageBytes.PutU32(image, dir + 0x6C, 0x7FFF); // i_size_high: a directory of 128 TiB
        AssertRefused(image, ["p0:/dirs/few", "is not a whole number of blocks up to"], "ls", image, "p0:/dirs/few");
        AssertCorrupt(image, fs => fs.List(fs.Lookup("/dirs/few")!), "/dirs/few");
    }

    [ExtRootFact]
    public void A_metadata_checksum_mismatch_is_a_warning_unless_strict()
    {
        string image = Copy("csum.img");
        uint ino = ExtImageMap.InodeNumber(image, "/tiny");
        long tiny = ExtImageMap.InodeOffset(image, "/tiny");
        ImageBytes.Write(image, tiny + 0x7C, [(byte)(ImageBytes.Read(image, tiny + 0x7C, 1)[0] ^ 0x5A)]); // i_checksum_lo
        string before = Hashing.Sha256File(image);
        var r = MountChainCli.Run("cat-file", image, "p0:/tiny");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("tiny\n", r.Stdout);
        Assert.Equal($"mountchain: warning: p0: ext inode {ino}: metadata checksum mismatch", r.Stderr.Trim());
        AssertRefused(image, ["p0:/tiny", $"ext inode {ino}", "metadata checksum mismatch"], "cat-file", image, "p0:/tiny", "--strict-checksums");
        Assert.Equal(before, Hashing.Sha256File(image));
    }
}
