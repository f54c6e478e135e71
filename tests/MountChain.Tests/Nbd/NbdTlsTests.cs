using System.Diagnostics;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.Nbd;

/// <summary>
/// <c>serve --tls-cert/--tls-key</c>: NBD_OPT_STARTTLS with real clients (qemu-img/qemu-io with
/// tls-creds-x509, nbdinfo with nbds://), refusal of plaintext options, client certificates, the
/// plaintext warning and the --allow list. Certificates are made by openssl for each test.
/// </summary>
public sealed class NbdTlsTests
{
    /// <summary>A running `mountchain serve` and the URI it printed.</summary>
    private sealed class Served : IAsyncDisposable
    {
        public required Process Process { get; init; }
        public required string Uri { get; init; }
        public int Port => int.Parse(Uri.Split(':')[^1].Split('/')[0]);
        public Task<string> Stderr { get; private init; } = Task.FromResult("");

        public static async Task<Served> StartAsync(params string[] args)
        {
            var process = Process.Start(MountChainCli.StartInfo(["serve", .. args]))!;
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            if (line == null) Assert.Fail($"serve printed nothing: {await process.StandardError.ReadToEndAsync()}");
            return new Served { Process = process, Uri = line!.Split(' ')[^1], Stderr = process.StandardError.ReadToEndAsync() };
        }

        /// <summary>SIGTERM, exit 0, and everything the server wrote to stderr.</summary>
        public async Task<string> StopAsync()
        {
            Check("kill", "-TERM", Process.Id.ToString());
            await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, Process.ExitCode);
            return await Stderr;
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited) { Process.Kill(); await Process.WaitForExitAsync(); }
            Process.Dispose();
        }
    }

    [NbdToolsFact]
    public async Task Tls_required_serves_qemu_img_qemu_io_and_nbdinfo_over_nbds()
    {
        using var dir = new TempDirectory();
        var certs = new TlsTestCertificates(dir);
        string image = dir.RandomImage("disk.raw", 8 * 1024 * 1024);
        await using var served = await Served.StartAsync(image, "--listen", "127.0.0.1:0", "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey);
        Assert.StartsWith("nbds://127.0.0.1:", served.Uri);

        string copy = dir.File("copy.raw");
        Check("qemu-img", "convert", "--object", TlsTestCertificates.QemuObject(certs.AnonymousClientDir),
            "--image-opts", TlsTestCertificates.QemuImage(served.Port), "-O", "raw", copy);
        Assert.Equal(Hashing.Sha256File(image), Hashing.Sha256File(copy));

        // 3 MiB: longer than one stream chunk, so the reply's tail is streamed through TLS too.
        var io = CheckResult("qemu-io", "-r", "--object", TlsTestCertificates.QemuObject(certs.AnonymousClientDir),
            "--image-opts", TlsTestCertificates.QemuImage(served.Port), "-c", "read -v 5242880 16", "-c", "read 1048576 3145728");
        Assert.Contains("read 3145728/3145728 bytes", io.Stdout);

        var info = CheckResult("nbdinfo", $"{served.Uri}/?tls-certificates={certs.AnonymousClientDir}");
        Assert.Contains("with TLS", info.Stdout);
        Assert.Contains("export-size: 8388608", info.Stdout);

        // The same clients without TLS are turned away.
        var plain = Run("nbdinfo", $"nbd://127.0.0.1:{served.Port}");
        Assert.NotEqual(0, plain.ExitCode);
        Assert.NotEqual(0, Run("qemu-img", "info", $"nbd://127.0.0.1:{served.Port}").ExitCode);
        await served.StopAsync();
    }

    [Fact]
    public async Task Tls_required_refuses_every_option_before_starttls_and_ends_export_name()
    {
        using var dir = new TempDirectory();
        var certs = new TlsTestCertificates(dir);
        string image = dir.RandomImage("disk.raw", 1024 * 1024);
        await using var served = await Served.StartAsync(image, "--listen", "127.0.0.1:0", "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls", "require");

        using (var client = new RawNbdClient(served.Port))
        {
            client.Greet();
            foreach (uint option in new uint[] { 8, 3, 9 }) // STRUCTURED_REPLY, LIST, LIST_META_CONTEXT
            {
                client.SendOption(option, option == 9 ? new byte[8] : []);
                Assert.Equal(0x8000_0005u, client.ReadOptionReply(option).Type); // NBD_REP_ERR_TLS_REQD
            }
            Assert.Equal(0x8000_0005u, client.Go());
            // After STARTTLS the same connection gets the export.
            Assert.True(client.StartTls(certs.Ca));
            Assert.Equal(1u, client.Go());
            Assert.Equal(1024 * 1024, client.ExportSize);
            client.SendRequest(0, 7, 4096, 4096); // READ, simple reply (structured replies were not negotiated over TLS)
            var (error, cookie) = client.ReadSimpleReply();
            Assert.Equal((0u, 7ul), (error, cookie));
            Assert.Equal(File.ReadAllBytes(image).AsSpan(4096, 4096).ToArray(), client.ReadExact(4096));
        }
        using (var client = new RawNbdClient(served.Port))
        {
            client.Greet();
            client.SendOption(1, []); // NBD_OPT_EXPORT_NAME has no error reply: the server hangs up
            Assert.True(client.WasClosedByServer());
        }
        string log = await served.StopAsync();
        Assert.Contains("NBD_OPT_EXPORT_NAME before NBD_OPT_STARTTLS, and TLS is required", log);
    }

    [NbdToolsFact]
    public async Task Tls_verify_peer_accepts_a_client_certificate_from_the_ca_and_refuses_a_client_without_one()
    {
        using var dir = new TempDirectory();
        var certs = new TlsTestCertificates(dir);
        string image = dir.RandomImage("disk.raw", 2 * 1024 * 1024);
        await using var served = await Served.StartAsync(image, "--listen", "127.0.0.1:0",
            "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-verify-peer", certs.CaCert);

        var io = Run("qemu-io", "-r", "--object", TlsTestCertificates.QemuObject(certs.ClientDir),
            "--image-opts", TlsTestCertificates.QemuImage(served.Port), "-c", "read 0 64k");
        Assert.True(io.ExitCode == 0, io.All);
        Assert.Contains("read 65536/65536 bytes", io.Stdout);

        var anonymous = Run("qemu-io", "-r", "--object", TlsTestCertificates.QemuObject(certs.AnonymousClientDir),
            "--image-opts", TlsTestCertificates.QemuImage(served.Port), "-c", "read 0 64k");
        Assert.DoesNotContain("read 65536/65536 bytes", anonymous.Stdout);
        Assert.NotEqual(0, Run("nbdinfo", $"{served.Uri}/?tls-certificates={certs.AnonymousClientDir}").ExitCode);
        Assert.Equal(0, Run("nbdinfo", $"{served.Uri}/?tls-certificates={certs.ClientDir}").ExitCode);

        string log = await served.StopAsync();
        Assert.Contains("TLS handshake failed", log);
    }

    [NbdToolsFact]
    public async Task Tls_on_serves_plaintext_and_tls_clients_alike()
    {
        using var dir = new TempDirectory();
        var certs = new TlsTestCertificates(dir);
        string image = dir.RandomImage("disk.raw", 1024 * 1024);
        await using var served = await Served.StartAsync(image, "--listen", "127.0.0.1:0", "--tls", "on", "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey);
        Assert.StartsWith("nbd://", served.Uri);
        Assert.Contains("without TLS", CheckResult("nbdinfo", served.Uri).Stdout);
        Assert.Contains("with TLS", CheckResult("nbdinfo", $"nbds://127.0.0.1:{served.Port}/?tls-certificates={certs.AnonymousClientDir}").Stdout);
        await served.StopAsync();
    }

    [Fact]
    public async Task Starttls_on_a_server_without_tls_is_unsupported()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        await using var served = await Served.StartAsync(image, "--listen", "127.0.0.1:0");
        using var client = new RawNbdClient(served.Port);
        client.Greet();
        client.SendOption(5, []);
        Assert.Equal(0x8000_0001u, client.ReadOptionReply(5).Type); // NBD_REP_ERR_UNSUP
        Assert.Equal(1u, client.Go());
        await served.StopAsync();
    }

    [Fact]
    public async Task Listening_beyond_loopback_without_tls_warns_and_allow_turns_away_other_addresses()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        // Bound on every address, but only 10.0.0.0/8 may connect: our loopback client is refused.
        await using var served = await Served.StartAsync(image, "--listen", "0.0.0.0:0", "--allow", "10.0.0.0/8");
        using (var client = new RawNbdClient(served.Port))
            Assert.True(client.WasClosedByServer());
        string log = await served.StopAsync();
        Assert.Contains("warning: serving 0.0.0.0:", log);
        Assert.Contains("without TLS", log);
        Assert.Contains("not in the --allow list; connection refused", log);
    }

    [Fact]
    public async Task Allow_lets_listed_addresses_in_and_loopback_without_tls_does_not_warn()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        await using var served = await Served.StartAsync(image, "--listen", "127.0.0.1:0", "--allow", "192.168.0.0/16,127.0.0.1");
        using (var client = new RawNbdClient(served.Port))
        {
            client.Greet();
            Assert.Equal(1u, client.Go());
        }
        string log = await served.StopAsync();
        Assert.DoesNotContain("warning", log);
        Assert.DoesNotContain("--allow", log);
    }

    [Theory]
    [InlineData("--tls", "require")]
    [InlineData("--tls-key", "/nonexistent")]
    [InlineData("--allow", "300.1.1.1/8")]
    public void Incomplete_tls_or_a_bad_allow_list_is_a_usage_error(string option, string value)
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        var result = MountChainCli.Run("serve", image, "--listen", "127.0.0.1:0", option, value);
        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_certificate_that_does_not_load_is_an_input_error_naming_the_file()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 65536);
        string bogus = dir.File("cert.pem");
        File.WriteAllText(bogus, "not a certificate\n");
        var result = MountChainCli.Run("serve", image, "--listen", "127.0.0.1:0", "--tls-cert", bogus, "--tls-key", bogus);
        Assert.Equal(1, result.ExitCode);
        // The CLI may put the disk's name first (every error names the input); the certificate file must be named.
        Assert.StartsWith("mountchain: ", result.Stderr);
        Assert.Contains($"{bogus}: cannot load the TLS certificate", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }
}
