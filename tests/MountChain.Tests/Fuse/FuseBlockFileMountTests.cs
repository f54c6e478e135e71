using System.Runtime.InteropServices;
using System.Security.Cryptography;
using MountChain.Core.BlockDevices;
using MountChain.Mounting.BlockFile;
using MountChain.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MountChain.Tests.Fuse;

/// <summary>The FUSE block file on the real kernel: bytes, the loop driver, kernel file systems, writes, holes, concurrency.</summary>
public sealed class FuseBlockFileMountTests(ITestOutputHelper output)
{
    [RequiresFuseFact]
    public void Disk_file_of_a_read_only_mount_has_the_image_bytes_and_refuses_writes()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        var bytes = RandomBytes(24 << 20, 1);
        File.WriteAllBytes(image, bytes);
        string before = Sha256(image);
        {
            using var device = new RawFileBlockDevice(image);
            using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"));
            Assert.Equal(bytes.LongLength, new FileInfo(mount.DiskFile).Length);
            Assert.Equal(before, Sha256(mount.DiskFile));
            Assert.Equal(["disk.raw"], Directory.EnumerateFileSystemEntries(mount.MountPoint).Select(Path.GetFileName));

            var refused = Record.Exception(() => File.OpenHandle(mount.DiskFile, FileMode.Open, FileAccess.ReadWrite).Dispose());
            Assert.NotNull(refused);
            Assert.True(refused is UnauthorizedAccessException || refused.Message.Contains("Read-only", StringComparison.OrdinalIgnoreCase),
                refused.ToString());
            Assert.ThrowsAny<Exception>(() => File.WriteAllText(Path.Combine(mount.MountPoint, "new.txt"), "x"));
            Assert.ThrowsAny<Exception>(() => File.Delete(mount.DiskFile));
        }
        Assert.Equal(before, Sha256(image));
    }

    [RequiresFuseFact("losetup", "sfdisk", "mkfs.ext4", "partx")]
    public void Loop_device_on_disk_raw_mounts_the_ext4_partition_read_only_with_the_right_files()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var files = Ext4DiskImage.WriteSampleFiles(scratch.Dir("content"), 2);
        string image = scratch.File("gpt.img");
        Ext4DiskImage.Build(image, scratch.File("content"));
        string before = Sha256(image);
        {
            using var device = new RawFileBlockDevice(image);
            using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"));
            using var loop = new LoopDevice(mount.DiskFile, readOnly: true, partitions: true);
            using var fs = new KernelMount(loop.Partition(1), scratch.Dir("fs"), readOnly: true);
            foreach (var (name, content) in files)
                Assert.Equal(content, File.ReadAllBytes(Path.Combine(fs.Directory, name)));
        }
        Assert.Equal(before, Sha256(image));
    }

    [RequiresFuseFact("losetup", "sfdisk", "mkfs.ext4", "partx")]
    public void Files_written_through_a_writable_mount_land_in_the_backing_image()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("disk.img");
        ProcessRunner.Check("truncate", "-s", (64 << 20).ToString(), image);
        ProcessRunner.Check("sh", "-c", $"printf 'label: gpt\\nstart=2048, size={(62 << 20) / 512}, type=linux\\n' | sfdisk -q '{image}'");
        var files = Ext4DiskImage.WriteSampleFiles(scratch.Dir("content"), 3);
        {
            using var device = new RawFileBlockDevice(image, writable: true);
            using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"));
            using var loop = new LoopDevice(mount.DiskFile, readOnly: false, partitions: true);
            string partition = loop.Partition(1);
            ProcessRunner.Check("mkfs.ext4", "-q", "-F", partition);
            using (var fs = new KernelMount(partition, scratch.Dir("fs"), readOnly: false))
            {
                foreach (var (name, content) in files)
                {
                    var path = Path.Combine(fs.Directory, name);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.WriteAllBytes(path, content);
                }
                ProcessRunner.Check("sync");
            }
        }
        // Read the image directly, without FUSE: what the kernel wrote through disk.raw must be there.
        using var direct = new LoopDevice(image, Ext4DiskImage.PartitionOffset, 62 << 20, readOnly: true);
        using var check = new KernelMount(direct.Device, scratch.Dir("check"), readOnly: true);
        foreach (var (name, content) in files)
            Assert.Equal(content, File.ReadAllBytes(Path.Combine(check.Directory, name)));
    }

    [RequiresFuseFact("fallocate")]
    public void Punch_hole_and_zero_range_reach_the_device_and_fsync_flushes_it()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var device = new SparseMemoryDevice(RandomBytes(4 << 20, 4));
        using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"));

        ProcessRunner.Check("fallocate", "-p", "-o", "65536", "-l", "131072", mount.DiskFile);
        ProcessRunner.Check("fallocate", "-z", "-o", "1048576", "-l", "4096", mount.DiskFile);
        Assert.False(device.Data.AsSpan(65536, 131072).ContainsAnyExcept((byte)0));
        Assert.False(device.Data.AsSpan(1048576, 4096).ContainsAnyExcept((byte)0));
        Assert.True(device.Data.AsSpan(65536 + 131072, 4096).ContainsAnyExcept((byte)0));

        int flushes = device.Flushes;
        ProcessRunner.Check("dd", "if=/dev/zero", $"of={mount.DiskFile}", "bs=4096", "count=1", "seek=10", "conv=notrunc,fsync", "status=none");
        Assert.True(device.Flushes > flushes);

        // The disk has a fixed size: nothing can be written past its end.
        var past = ProcessRunner.Run("dd", "if=/dev/zero", $"of={mount.DiskFile}", "bs=4096", "count=1", $"seek={(4 << 20) / 4096}", "conv=notrunc", "status=none");
        Assert.NotEqual(0, past.ExitCode);
        Assert.Contains("No space", past.Stderr);
    }

    [RequiresFuseFact]
    public async Task Seek_data_and_seek_hole_follow_the_device_allocation_and_st_blocks_counts_it()
    {
        using var scratch = new TempDirectory("mc-fuse");
        var data = new byte[8 << 20];
        new Random(5).NextBytes(data.AsSpan(1 << 20, 1 << 20));   // data at [1 MiB, 2 MiB)
        new Random(6).NextBytes(data.AsSpan(5 << 20, 64 << 10));  // and at [5 MiB, 5 MiB + 64 KiB)
        var device = new SparseMemoryDevice(data, writable: false);
        var tree = new BlockFileTree(device);
        await tree.AllocationCounted; // before the kernel first caches the attributes
        using var mount = new InProcessMount(tree, scratch.Dir("mnt"));

        using var handle = File.OpenHandle(mount.DiskFile);
        int fd = (int)handle.DangerousGetHandle();
        Assert.Equal(1L << 20, Lseek(fd, 0, SeekData));
        Assert.Equal(2L << 20, Lseek(fd, 1 << 20, SeekHole));
        Assert.Equal(5L << 20, Lseek(fd, 2 << 20, SeekData));
        Assert.Equal((5L << 20) + (64 << 10), Lseek(fd, 5 << 20, SeekHole));
        Assert.Equal(-1, Lseek(fd, 6 << 20, SeekData)); // no data after: ENXIO
        Assert.Equal(6, Marshal.GetLastPInvokeError());

        long blocks = long.Parse(ProcessRunner.Check("stat", "-c", "%b", mount.DiskFile).Trim());
        Assert.Equal(((1L << 20) + (64 << 10)) / 512, blocks);
    }

    [RequiresFuseFact]
    public void Many_parallel_readers_all_get_the_right_bytes()
    {
        using var scratch = new TempDirectory("mc-fuse");
        string image = scratch.File("image.raw");
        var bytes = RandomBytes(32 << 20, 7);
        File.WriteAllBytes(image, bytes);
        using var device = new RawFileBlockDevice(image);
        using var mount = new InProcessMount(new BlockFileTree(device), scratch.Dir("mnt"));
        using var handle = File.OpenHandle(mount.DiskFile, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
        int failures = 0;
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, worker =>
        {
            var random = new Random(100 + worker);
            var buffer = new byte[1 << 20];
            for (int i = 0; i < 40; i++)
            {
                int length = random.Next(1, buffer.Length);
                long offset = random.NextInt64(0, bytes.Length - length);
                int n = RandomAccess.Read(handle, buffer.AsSpan(0, length), offset);
                if (n != length || !buffer.AsSpan(0, n).SequenceEqual(bytes.AsSpan((int)offset, n)))
                    Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
        // Reads at and across the end are short, as for any file.
        var tail = new byte[8192];
        Assert.Equal(4096, RandomAccess.Read(handle, tail, bytes.Length - 4096));
        Assert.Equal(0, RandomAccess.Read(handle, tail, bytes.Length));
        output.WriteLine($"16 readers x 40 random reads verified on {mount.DiskFile}");
    }

    private const int SeekData = 3, SeekHole = 4;

    [DllImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static extern long Lseek(int fd, long offset, int whence);

    internal static byte[] RandomBytes(int size, int seed)
    {
        var b = new byte[size];
        new Random(seed).NextBytes(b);
        return b;
    }

    internal static string Sha256(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(s));
    }
}
