using System.Diagnostics;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.Nbd;

/// <summary><c>mountchain serve</c> as a user runs it: a separate process, stopped by a signal.</summary>
public sealed class ServeCommandTests
{
    private static Process StartServe(params string[] args) => Process.Start(MountChainCli.StartInfo(["serve", .. args]))!;

    [NbdToolsFact]
    public async Task Serve_prints_the_uri_serves_the_image_and_stops_cleanly_on_SIGTERM()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 8 * 1024 * 1024);
        using var process = StartServe(image, "--listen", "127.0.0.1:0", "--export-name", "d");
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Matches($@"^serving {System.Text.RegularExpressions.Regex.Escape(image)} generation 0 on nbd://127\.0\.0\.1:\d+/d$", line);
            string uri = line!.Split(' ')[^1];

            string copy = dir.File("copy.raw");
            Check("qemu-img", "convert", "-f", "raw", "-O", "raw", uri, copy);
            Assert.Equal(Hashing.Sha256File(image), Hashing.Sha256File(copy));
            Assert.Contains("is_read_only: true", CheckResult("nbdinfo", uri).Stdout);

            Check("kill", "-TERM", process.Id.ToString());
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    [NbdToolsFact]
    public async Task Serve_presents_the_chosen_generation_of_a_vmdk_chain()
    {
        using var dir = new TempDirectory();
        string b = dir.File("base.vmdk"), s1 = dir.File("s1.vmdk");
        Check("qemu-img", "create", "-q", "-f", "vmdk", b, "8M");
        Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x41 0 1M", b);
        Check("qemu-img", "create", "-q", "-f", "vmdk", "-b", b, "-F", "vmdk", s1);
        Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x42 0 512k", s1);
        using var process = StartServe(s1, "-g", "0", "--listen", "127.0.0.1:0");
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains($"serving {s1} generation 0 on nbd://", line);
            string uri = line!.Split(' ')[^1];
            var read = CheckResult("qemu-io", "-r", "-f", "raw", uri, "-c", "read -P 0x41 0 1M");
            Assert.DoesNotContain("verification failed", read.All);
            Check("kill", "-TERM", process.Id.ToString());
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    [NbdToolsFact]
    public async Task Serve_on_a_unix_socket_answers_nbdinfo()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 1024 * 1024);
        string socket = dir.File("s.sock");
        using var process = StartServe(image, "--socket", socket);
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.EndsWith($"on nbd+unix:///?socket={socket}", line);
            Assert.Contains("export-size: 1048576", CheckResult("nbdinfo", $"nbd+unix:///?socket={socket}").Stdout);
            Check("kill", "-INT", process.Id.ToString());
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, process.ExitCode);
            Assert.False(File.Exists(socket));
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    [Fact]
    public async Task Serve_with_write_on_a_raw_image_explains_that_a_vmdk_chain_is_needed()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        using var process = StartServe(image, "--write");
        string stderr = await process.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync();
        Assert.Equal(2, process.ExitCode);
        Assert.Equal($"mountchain: {image}: --write needs a VMDK chain (a raw image has no redo log to write into)", stderr.Trim());
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(image)!)); // no redo log was created
    }

    [Fact]
    public async Task Serve_rejects_a_malformed_listen_address()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        using var process = StartServe(image, "--listen", "nonsense");
        string stderr = await process.StandardError.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("expected HOST:PORT", stderr);
    }
}
