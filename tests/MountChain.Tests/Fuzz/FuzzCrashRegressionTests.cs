using MountChain.Fuzz.Harness;
using MountChain.Fuzz.Targets;

namespace MountChain.Tests.Fuzz;

/// <summary>
/// Inputs AFL found that broke a rule (Fuzz/Crashes/TARGET/NAME), each with the input error it must
/// now give: the structure is named and the exception is a documented input error.
/// </summary>
public sealed class FuzzCrashRegressionTests
{
    private static string Rejection(string target, string crash)
    {
        using var scratch = new Scratch();
        string? rejection = FuzzCheck.RunBounded(TargetCatalog.Find(target)!, FuzzInputs.Crash(target, crash), scratch);
        Assert.NotNull(rejection);
        return rejection!;
    }

    [Fact]
    public void Xfs_realtime_flag_on_a_file_is_an_unsupported_input_error()
    {
        // Was "internal error: NotSupportedException" from files-hash (issue 15).
        string r = Rejection("xfs", "realtime-file");
        Assert.StartsWith("FileSystemUnsupportedException:", r);
        Assert.Contains("realtime device", r);
        Assert.Contains("XFS inode", r);
    }

    [Fact]
    public void Xfs_extent_whose_file_offset_overflows_is_corrupt_metadata()
    {
        // Was "internal error: ArgumentOutOfRangeException" from files-hash (issue 15): 54-bit file
        // block numbers shifted by the block size overflowed a 64-bit offset.
        string r = Rejection("xfs", "extent-offset-overflow");
        Assert.StartsWith("FileSystemCorruptException:", r);
        Assert.Contains("XFS inode", r);
    }

    [Theory]
    [InlineData("incompat-features", "incompatible features")]
    [InlineData("bigalloc", "bigalloc")]
    public void Ext_unsupported_superblock_features_are_input_errors(string crash, string expected)
    {
        string r = Rejection("ext4", crash);
        Assert.StartsWith("FileSystemUnsupportedException:", r);
        Assert.Contains(expected, r);
    }

    [Fact]
    public void Ext_inode_size_beyond_the_largest_ext_file_is_corrupt_metadata()
    {
        // Found by CliMutationTests: i_size_high mutated to 2^47 made files-hash read holes "forever".
        string r = Rejection("ext4", "size-2pow47");
        Assert.StartsWith("FileSystemCorruptException:", r);
        Assert.Contains("exceeds the largest ext file", r);
    }

    [Theory]
    [InlineData("vmx")]
    [InlineData("vmsd")]
    [InlineData("descriptor")]
    public void Utf7_encoding_key_is_an_unsupported_input_error(string target)
    {
        // .NET refuses UTF-7 with NotSupportedException, which escaped as "internal error".
        string r = Rejection(target, "encoding-utf7");
        Assert.StartsWith("UnsupportedFeatureException:", r);
        Assert.Contains("is not supported", r);
    }

    [Fact]
    public void SeSparse_grain_pool_offset_that_overflows_is_corrupt_metadata()
    {
        // Found by the 4 s CI fuzz run: grainsOffset × 512 wrapped negative and reached
        // RandomAccess.Read as "internal error: ArgumentOutOfRangeException (fileOffset)".
        string r = Rejection("sesparse", "grains-offset-overflow");
        Assert.StartsWith("CorruptMetadataException:", r);
        Assert.Contains("SESparse grain table", r);
    }

    [Theory]
    [InlineData("sparse", "directory-6m-entries")]
    [InlineData("sparse", "directory-15m-entries")]
    [InlineData("sparse", "directory-16m-entries-bad-primary")]
    [InlineData("stream", "directory-14m-entries")]
    [InlineData("stream", "directory-4m-entries-128-per-table")]
    public void Hosted_grain_directory_too_large_to_hold_is_refused_before_it_is_read(string target, string crash)
    {
        // Found by the 10-minute fuzz run: 6–16 Mi directory entries (25–64 MiB, twice that with a
        // redundant directory tried after a bad primary) were read whole, over the 64 MiB an input may cost.
        string r = Rejection(target, crash);
        Assert.StartsWith("CorruptMetadataException:", r);
        Assert.Contains("the grain directory would need", r);
    }

    [Fact]
    public void Vmx_file_name_with_a_pipe_escaped_nul_is_corrupt_metadata()
    {
        // Found by the 10-minute fuzz run of 'vmx': "|00" in a disk's fileName unescaped to a NUL and
        // reached Path.GetFullPath as an undocumented ArgumentException.
        string r = Rejection("vmx", "pipe-escaped-nul-in-file-name");
        Assert.StartsWith("CorruptMetadataException:", r);
        Assert.Contains("decodes to a NUL character", r);
    }

    [Fact]
    public void Ntfs_sectors_per_cluster_byte_whose_shift_wraps_is_corrupt_metadata()
    {
        // Found by the 10-minute fuzz run of 'ntfs': a sectors-per-cluster byte of 2^(256-b) with a
        // shift of 63 wrapped the cluster size to 0 and divided by it (undocumented DivideByZeroException).
        string r = Rejection("ntfs", "sectors-per-cluster-shift-wraps");
        Assert.StartsWith("FileSystemCorruptException:", r);
        Assert.Contains("sectors per cluster", r);
    }
}
