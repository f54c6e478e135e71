using System.Diagnostics;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Xfs;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>
/// Damaged copies of the kernel-built v5 image (xfs_db -x for consistent-CRC lies, dd for raw
/// damage): every one must end in a one-line FileSystemCorruptException, quickly, without large allocations.
/// </summary>
[Collection(XfsKernelImageCollection.Name)]
public sealed class XfsHostileImageTests(XfsKernelImage image)
{
    private static XfsFileSystem Open(string path) => XfsFileSystem.Open(new RawFileBlockDevice(path), ownsDevice: true);

    /// <summary>Runs <paramref name="action"/> and checks it fails as corruption within 10 s and 64 MiB of allocation.</summary>
    private static FileSystemCorruptException AssertCorrupt(Action action, string messageFragment)
    {
        var sw = Stopwatch.StartNew();
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<FileSystemCorruptException>(action);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.True(allocated < 64 << 20, $"allocated {allocated} bytes");
        Assert.Contains(messageFragment, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        return ex;
    }

    private static void Overwrite(string path, long offset, byte[] bytes)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(handle, bytes, offset);
    }

    private static void ReadAll(IFileSystem fs, FsEntry e)
    {
        byte[] buffer = new byte[1 << 16];
        for (long offset = 0; fs.Read(e, buffer, offset) is int n and > 0; offset += n) { }
    }

    [XfsRootFact]
    public void An_absurd_extent_count_is_reported_not_allocated()
    {
        string copy = image.CopyImage("absurd-nextents.img");
        ulong ino = image.Entries["/small/f100"].Inode;
        XfsProcess.XfsDb(copy, true, $"inode {ino}", "write core.nextents 4000000000");
        using var fs = Open(copy);
        var file = fs.Lookup("/small/f100")!;
        AssertCorrupt(() => ReadAll(fs, file), $"inode {ino}: extent count 4000000000");
    }

    [XfsRootFact]
    public void A_btree_block_pointing_at_itself_is_a_cycle_not_a_hang()
    {
        string copy = image.CopyImage("btree-cycle.img");
        ulong ino = image.Entries["/btree/many"].Inode;
        string root = XfsProcess.XfsDb(copy, false, $"inode {ino}", "print u3.bmbt.ptrs[1]");
        ulong node = ulong.Parse(root[(root.IndexOf('=') + 1)..].Trim());
        XfsProcess.XfsDb(copy, true, $"fsblock {node}", "type bmapbtd", $"write ptrs[2] {node}");
        using var fs = Open(copy);
        var file = fs.Lookup("/btree/many")!;
        AssertCorrupt(() => ReadAll(fs, file), $"inode {ino}: btree block {node}");
    }

    [XfsRootFact]
    public void A_damaged_directory_block_fails_its_crc()
    {
        string copy = image.CopyImage("dir-garbage.img");
        ulong ino = image.Entries["/dirs/many"].Inode;
        string bmap = XfsProcess.XfsDb(copy, false, $"inode {ino}", "bmap");
        string first = bmap.Split('\n')[0]; // "data offset 0 startblock N (a/b) count C flag 0"
        Assert.StartsWith("data offset 0 startblock ", first);
        ulong fsblock = ulong.Parse(first.Split(' ')[4]);
        long byteOffset = XfsProcess.ParseConvert(XfsProcess.XfsDb(copy, false, $"convert fsblock {fsblock} byte"));
        Overwrite(copy, byteOffset + 200, Enumerable.Repeat((byte)0xA5, 64).ToArray());
        using var fs = Open(copy);
        var dir = fs.Lookup("/dirs")!;
        Assert.Contains(fs.List(dir), e => e.Name == "many");
        AssertCorrupt(() => fs.List(fs.Lookup("/dirs/many")!), $"directory inode {ino}: data block at 0 CRC mismatch");
    }

    [XfsRootFact]
    public void A_damaged_inode_fails_its_crc()
    {
        string copy = image.CopyImage("inode-garbage.img");
        ulong ino = image.Entries["/sf/a"].Inode;
        long byteOffset = XfsProcess.ParseConvert(XfsProcess.XfsDb(copy, false, $"convert ino {ino} byte"));
        Overwrite(copy, byteOffset + 60, [0x7f]); // inside di_size
        using var fs = Open(copy);
        AssertCorrupt(() => fs.List(fs.Lookup("/sf")!), $"inode {ino}: CRC mismatch");
    }

    [XfsRootFact]
    public void A_damaged_superblock_or_truncated_image_is_refused_at_open()
    {
        string copy = image.CopyImage("sb-garbage.img");
        Overwrite(copy, 150, [0x12, 0x34]); // inside sb_fdblocks
        AssertCorrupt(() => Open(copy).Dispose(), "XFS superblock: CRC mismatch");

        string truncated = image.CopyImage("truncated.img");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(truncated, File.GetUnixFileMode(truncated) | UnixFileMode.UserWrite);
        using (var stream = new FileStream(truncated, FileMode.Open, FileAccess.Write)) stream.SetLength(100L << 20);
        AssertCorrupt(() => Open(truncated).Dispose(), "larger than the");
    }

    [XfsRootFact]
    public void A_directory_entry_looping_to_its_ancestor_is_reported()
    {
        string copy = image.CopyImage("dir-loop.img");
        ulong sf = image.Entries["/sf"].Inode;
        // /sf/sub is a shortform directory holding "b"; make "b" name /sf itself.
        ulong sub = image.Entries["/sf/sub"].Inode;
        string print = XfsProcess.XfsDb(copy, false, $"inode {sub}", "print u3.sfdir3.hdr.i8count u3.sfdir3.list[0].name");
        Assert.Contains("i8count = 0", print);
        XfsProcess.XfsDb(copy, true, $"inode {sub}", $"write u3.sfdir3.list[0].inumber.i4 {sf}");
        using var fs = Open(copy);
        AssertCorrupt(() => fs.List(fs.Lookup("/sf/sub")!), "loops back to ancestor");
    }
}
