using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using MountChain.Core.BlockDevices;
using MountChain.FileSystems.Operations;
using MountChain.FileSystems.Xfs;
using MountChain.Tests.FileSystems.Xfs;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.FileSystems;

/// <summary>
/// extract's kernel copy (copy_file_range from the image file) and the read/write loop it falls
/// back to when the kernel refuses (EXDEV between file systems without splice, ENOSYS on old
/// kernels): the refusal is injected at the copy call, the rest runs for real on an mkfs.xfs image.
/// </summary>
public sealed class KernelCopyFallbackTests(XfsV4Image v4) : IClassFixture<XfsV4Image>
{
    private const int EXDEV = 18, ENOSYS = 38;

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [XfsToolsFact]
    public void The_kernel_copies_a_file_of_the_image_and_the_bytes_are_the_same()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (image, truth) = v4.Built;
        using var fs = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true);
        long copied = 0;
        var copy = new KernelFileCopy((SafeFileHandle s, long so, SafeFileHandle t, long to, int count, out int errno) =>
        {
            long n = KernelFileCopy.Kernel(s, so, t, to, count, out errno);
            if (n > 0) copied += n;
            return n;
        });
        using var output = new TempDirectory("mountchain-kcopy");
        new TreeExtractor(fs, kernelCopy: copy).Extract(fs.Lookup("/three-megabytes")!, output.Path);
        Assert.Equal(3 << 20, copied); // all of it in the kernel: the fallback tests below start from this path
        Assert.Equal(truth["/three-megabytes"].Sha256, Sha256(Path.Combine(output.Path, "three-megabytes")));
    }

    [XfsToolsFact]
    public void A_refusal_in_the_middle_of_a_file_is_finished_by_the_read_write_loop_and_later_files_never_ask_again()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (image, truth) = v4.Built;
        using var fs = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true);
        int calls = 0;
        // The kernel moves the first MiB (a short copy, as copy_file_range may do), then refuses like a target without splice.
        var copy = new KernelFileCopy((SafeFileHandle s, long so, SafeFileHandle t, long to, int count, out int errno) =>
        {
            if (++calls == 1) return KernelFileCopy.Kernel(s, so, t, to, Math.Min(count, 1 << 20), out errno);
            errno = EXDEV;
            return -1;
        });
        using var output = new TempDirectory("mountchain-kcopy");
        var extractor = new TreeExtractor(fs, kernelCopy: copy);
        extractor.Extract(fs.Lookup("/three-megabytes")!, output.Path);
        Assert.Equal(2, calls);
        Assert.Equal(truth["/three-megabytes"].Sha256, Sha256(Path.Combine(output.Path, "three-megabytes")));

        // Every other file goes the read/write way at once, with the same bytes.
        string tree = Path.Combine(output.Path, "tree");
        extractor.Extract(fs.Lookup("/")!, tree);
        Assert.Equal(2, calls);
        foreach (var (path, want) in truth.Where(t => t.Value.Sha256 != null))
            Assert.True(want.Sha256 == Sha256(tree + path), $"{path}: content differs");
    }

    [XfsToolsFact]
    public void A_kernel_without_copy_file_range_gives_the_same_bytes_through_the_read_write_loop()
    {
        if (!OperatingSystem.IsLinux()) return;
        var (image, truth) = v4.Built;
        using var fs = XfsFileSystem.Open(new RawFileBlockDevice(image), ownsDevice: true);
        int calls = 0;
        var copy = new KernelFileCopy((SafeFileHandle s, long so, SafeFileHandle t, long to, int count, out int errno) =>
        {
            calls++;
            errno = ENOSYS;
            return -1;
        });
        using var output = new TempDirectory("mountchain-kcopy");
        new TreeExtractor(fs, kernelCopy: copy).Extract(fs.Lookup("/three-megabytes")!, output.Path);
        Assert.Equal(1, calls);
        string file = Path.Combine(output.Path, "three-megabytes");
        Assert.Equal(3 << 20, new FileInfo(file).Length);
        Assert.Equal(truth["/three-megabytes"].Sha256, Sha256(file));
    }
}
