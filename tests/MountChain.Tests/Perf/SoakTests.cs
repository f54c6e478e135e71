namespace MountChain.Tests.Perf;

/// <summary>
/// The soak (perf/soak.sh) for one minute, as a test so its outcome counts in the suite's
/// "N passed, N failed" line: FUSE and NBD writers and O_DIRECT readers against shadow files,
/// servers restarted with SIGTERM and SIGKILL; fails on any mismatch or lost flushed write.
/// </summary>
public sealed class SoakTests
{
    [SoakFact]
    public void One_minute_soak_through_fuse_and_nbd_has_no_mismatch_and_loses_no_flushed_write()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "MountChain.sln"))) root = Path.GetDirectoryName(root) ?? throw new DirectoryNotFoundException("repository root");
        var result = ProcessRunner.Run("bash", [Path.Combine(root, "perf", "soak.sh"), "1"], timeout: TimeSpan.FromMinutes(6));
        Console.WriteLine(result.Stdout);
        Assert.True(result.ExitCode == 0, $"soak failed ({result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
        Assert.Contains("0 failures", result.Stdout);
    }
}

/// <summary>Root, FUSE, qemu and python3-libnbd (the soak's NBD client); skipped with the reason otherwise.</summary>
public sealed class SoakFactAttribute : FactAttribute
{
    public SoakFactAttribute()
    {
        Skip = RequiresFuseFactAttribute.SkipReason(["qemu-img", "qemu-io"]);
        if (Skip == null && !(File.Exists("/usr/bin/python3") && ProcessRunner.Run("/usr/bin/python3", "-c", "import nbd").ExitCode == 0))
            Skip = "needs python3-libnbd";
    }
}
