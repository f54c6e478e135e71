using MountChain.Core.BlockDevices;
using MountChain.Fuse.Hosting;
using MountChain.Fuse.Lifecycle;
using MountChain.Mounting.Lifecycle;
using MountChain.Mounting.Trees;

namespace MountChain.Tests.Fuse;

/// <summary>A tree mounted in this process and served on a background thread.</summary>
internal sealed class InProcessMount : IDisposable
{
    private readonly FuseMount _mount;

    public InProcessMount(IFileTree tree, string mountPoint, FuseMountOptions? options = null)
    {
        _mount = FuseMount.Mount(tree, mountPoint, options);
        _mount.Start();
        MountPoint = mountPoint;
    }

    public string MountPoint { get; }
    public string DiskFile => Path.Combine(MountPoint, "disk.raw");
    public FuseMount Mount => _mount;

    public void Dispose()
    {
        var stop = Task.Run(_mount.Dispose);
        if (!stop.Wait(TimeSpan.FromSeconds(20)))
        {
            // Never leave a mount behind a failed test.
            Unmounter.Unmount(MountPoint, lazy: true);
            if (_mount.ConnectionId is int id) Unmounter.AbortConnection(id);
            stop.Wait(TimeSpan.FromSeconds(10));
        }
    }
}

/// <summary>A loop device on a file, detached on dispose.</summary>
internal sealed class LoopDevice : IDisposable
{
    public LoopDevice(string file, bool readOnly, bool partitions)
    {
        var args = new List<string> { "-f", "--show" };
        if (readOnly) args.Add("-r");
        if (partitions) args.Add("-P");
        args.Add(file);
        Device = ProcessRunner.Check("losetup", [.. args]).Trim();
    }

    /// <summary>losetup with an offset: one partition of an image, without going through a partition table.</summary>
    public LoopDevice(string file, long offset, long size, bool readOnly)
    {
        var args = new List<string> { "-f", "--show", "-o", offset.ToString(), "--sizelimit", size.ToString() };
        if (readOnly) args.Add("-r");
        args.Add(file);
        Device = ProcessRunner.Check("losetup", [.. args]).Trim();
    }

    public string Device { get; }

    /// <summary>The partition's node; asks the kernel with partx when -P did not create it (kernels without the partition parser).</summary>
    public string Partition(int number)
    {
        string node = $"{Device}p{number}";
        for (int i = 0; i < 50 && !File.Exists(node); i++)
        {
            if (i == 10) ProcessRunner.Run("partx", "-a", Device);
            Thread.Sleep(20);
        }
        if (!File.Exists(node)) throw new InvalidOperationException($"{node} did not appear");
        return node;
    }

    public void Dispose()
    {
        ProcessRunner.Run("partx", "-d", Device);
        for (int i = 0; i < 50; i++)
        {
            if (ProcessRunner.Run("losetup", "-d", Device).ExitCode == 0) return;
            Thread.Sleep(100);
        }
    }
}

/// <summary>A kernel file-system mount, unmounted on dispose.</summary>
internal sealed class KernelMount : IDisposable
{
    public KernelMount(string device, string directory, bool readOnly)
    {
        Directory = directory;
        ProcessRunner.Check("mount", readOnly ? ["-o", "ro", device, directory] : [device, directory]);
    }

    public string Directory { get; }

    public void Dispose()
    {
        if (ProcessRunner.Run("umount", Directory).ExitCode != 0) ProcessRunner.Run("umount", "-l", Directory);
    }
}

/// <summary>
/// A memory disk that reports a real allocation map: every 64 KiB chunk that is all zeros is
/// Unallocated, the rest Data (adjacent chunks of one kind merged), like a sparse image.
/// </summary>
internal sealed class SparseMemoryDevice(byte[] data, bool writable = true) : IBlockDevice
{
    public const int Chunk = 64 << 10;
    private readonly MemoryBlockDevice _inner = new(data, writable);

    public byte[] Data => data;
    public long Length => _inner.Length;
    public bool CanWrite => _inner.CanWrite;
    public int Flushes;
    /// <summary>When set, GetExtents waits for it: holds a background allocation count back.</summary>
    public ManualResetEventSlim? ExtentsGate { get; init; }

    public void Read(Span<byte> buffer, long offset) => _inner.Read(buffer, offset);
    public void Write(ReadOnlySpan<byte> d, long offset) => _inner.Write(d, offset);
    public void Flush() => Interlocked.Increment(ref Flushes);
    public void Discard(long offset, long length) => _inner.Discard(offset, length);
    public void WriteZeroes(long offset, long length) => _inner.WriteZeroes(offset, length);

    public void GetExtents(long offset, long length, List<BlockExtent> output)
    {
        BlockDeviceGuard.CheckRange(this, offset, length);
        ExtentsGate?.Wait();
        long end = offset + length;
        long pos = offset;
        while (pos < end)
        {
            long chunkEnd = Math.Min(end, (pos / Chunk + 1) * Chunk);
            bool zero = !data.AsSpan((int)pos, (int)(chunkEnd - pos)).ContainsAnyExcept((byte)0);
            var kind = zero ? ExtentKind.Unallocated : ExtentKind.Data;
            if (output.Count > 0 && output[^1] is var last && last.Kind == kind && last.Offset + last.Length == pos)
                output[^1] = last with { Length = last.Length + chunkEnd - pos };
            else output.Add(new BlockExtent(pos, chunkEnd - pos, kind, zero ? -1 : 0));
            pos = chunkEnd;
        }
    }

    public void Dispose() { }
}

/// <summary>A GPT disk image with one partition holding an ext4 file system made by mkfs.ext4 -d.</summary>
internal static class Ext4DiskImage
{
    public const long PartitionOffset = 1 << 20;

    /// <summary>Builds the image at <paramref name="imagePath"/>; returns the partition size.</summary>
    public static long Build(string imagePath, string contentDirectory, long diskSize = 64L << 20)
    {
        long partitionSize = diskSize - PartitionOffset - (1 << 20); // leave room for the backup GPT
        string fsImage = imagePath + ".fs";
        ProcessRunner.Check("truncate", "-s", diskSize.ToString(), imagePath);
        ProcessRunner.Check("sh", "-c", $"printf 'label: gpt\\nstart={PartitionOffset / 512}, size={partitionSize / 512}, type=linux\\n' | sfdisk -q '{imagePath}'");
        ProcessRunner.Check("truncate", "-s", partitionSize.ToString(), fsImage);
        ProcessRunner.Check("mkfs.ext4", "-q", "-F", "-d", contentDirectory, fsImage);
        ProcessRunner.Check("dd", $"if={fsImage}", $"of={imagePath}", "bs=1M", $"seek={PartitionOffset >> 20}", "conv=notrunc,fsync", "status=none");
        File.Delete(fsImage);
        return partitionSize;
    }

    /// <summary>A few files with distinct contents, some large enough to span many blocks.</summary>
    public static Dictionary<string, byte[]> WriteSampleFiles(string directory, int seed)
    {
        var random = new Random(seed);
        var files = new Dictionary<string, byte[]>();
        foreach (var (name, size) in new[] { ("hello.txt", 13), ("dir/data.bin", 3 << 20), ("dir/sub/odd.bin", 123_457) })
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            var path = Path.Combine(directory, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            files[name] = bytes;
        }
        return files;
    }
}
