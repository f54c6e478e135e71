using System.Net.Sockets;
using System.Text;
using MountChain.Core.BlockDevices;
using MountChain.Nbd.Server;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.Nbd;

/// <summary>The server against real NBD clients: qemu's (qemu-img, qemu-io) and libnbd's (nbdinfo, nbdcopy).</summary>
public sealed class NbdClientInteropTests
{
    private const int ImageSize = 32 * 1024 * 1024;
    private const int MiB = 1024 * 1024;

    [NbdToolsFact]
    public async Task Qemu_img_convert_over_nbd_equals_the_source_image()
    {
        using var dir = new TempDirectory();
        string source = dir.RandomImage("source.raw", ImageSize);
        using var device = new RawFileBlockDevice(source);
        await using var server = new NbdTestServer(device);

        string copy = dir.File("copy.raw");
        Check("qemu-img", "convert", "-f", "raw", "-O", "raw", server.Uri, copy);
        Assert.Equal(Hashing.Sha256File(source), Hashing.Sha256File(copy));
        var compare = Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", source, server.Uri]);
        Assert.True(compare.ExitCode == 0, compare.All);
        Assert.Contains("Images are identical", compare.Stdout);
    }

    [NbdToolsFact]
    public async Task Qemu_img_compare_notices_a_single_changed_byte()
    {
        using var dir = new TempDirectory();
        string source = dir.RandomImage("source.raw", ImageSize);
        string other = dir.File("other.raw");
        File.Copy(source, other);
        using (var f = File.OpenHandle(other, FileMode.Open, FileAccess.ReadWrite))
            RandomAccess.Write(f, new byte[] { 0x42 ^ 0xFF }, 12345678);
        using var device = new RawFileBlockDevice(source);
        await using var server = new NbdTestServer(device);

        var compare = Run("qemu-img", ["compare", "-f", "raw", "-F", "raw", other, server.Uri]);
        Assert.Equal(1, compare.ExitCode);
        // qemu-img reports the 512-byte sector holding the difference.
        Assert.Contains($"Content mismatch at offset {12345678 / 512 * 512}", compare.Stdout);
    }

    [NbdToolsFact]
    public async Task Qemu_io_reads_back_the_patterns_written_into_the_image()
    {
        using var dir = new TempDirectory();
        string image = dir.File("pattern.raw");
        Check("qemu-img", "create", "-f", "raw", image, "16M");
        Check("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "write -P 0x5c 3M 512k", "-c", "write -P 0x11 15M 1M", image);
        using var device = new RawFileBlockDevice(image);
        await using var server = new NbdTestServer(device);

        var read = CheckResult("qemu-io", "-r", "-f", "raw", server.Uri,
            "-c", "read -P 0xab 0 1M", "-c", "read -P 0x5c 3M 512k", "-c", "read -P 0 1M 2M", "-c", "read -P 0x11 15M 1M");
        Assert.DoesNotContain("verification failed", read.All);
        Assert.Equal(4, CountOf(read.Stdout, "read "));

        // The check can fail: a wrong pattern is reported.
        var wrong = Run("qemu-io", ["-r", "-f", "raw", server.Uri, "-c", "read -P 0xac 0 4k"]);
        Assert.Contains("Pattern verification failed", wrong.All);
    }

    [NbdToolsFact]
    public async Task Qemu_io_writes_zeroes_and_discards_land_in_a_writable_export()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("rw.raw", 16 * MiB);
        byte[] before = File.ReadAllBytes(image);
        using (var device = new RawFileBlockDevice(image, writable: true))
        {
            await using var server = new NbdTestServer(device);
            Check("qemu-io", "-f", "raw", server.Uri,
                "-c", "write -P 0x77 1M 64k",
                "-c", "write -f -P 0x66 5M 4k", // FUA
                "-c", "write -z 2M 128k",
                "-c", "discard 4M 64k",
                "-c", "flush");
            var verify = CheckResult("qemu-io", "-r", "-f", "raw", server.Uri, "-c", "read -P 0x77 1M 64k", "-c", "read -P 0 2M 128k");
            Assert.DoesNotContain("verification failed", verify.All);
        }

        byte[] after = File.ReadAllBytes(image);
        Assert.All(after.AsSpan(1 * MiB, 64 * 1024).ToArray(), b => Assert.Equal(0x77, b));
        Assert.All(after.AsSpan(5 * MiB, 4096).ToArray(), b => Assert.Equal(0x66, b));
        Assert.All(after.AsSpan(2 * MiB, 128 * 1024).ToArray(), b => Assert.Equal(0, b));
        Assert.All(after.AsSpan(4 * MiB, 64 * 1024).ToArray(), b => Assert.Equal(0, b));
        // Bytes outside the writes are untouched.
        Assert.True(after.AsSpan(0, MiB).SequenceEqual(before.AsSpan(0, MiB)));
        Assert.True(after.AsSpan(8 * MiB).SequenceEqual(before.AsSpan(8 * MiB)));
    }

    [NbdToolsFact]
    public async Task Writes_to_a_read_only_export_fail_with_operation_not_permitted()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("ro.raw", 4 * MiB);
        string hash = Hashing.Sha256File(image);
        using (var device = new RawFileBlockDevice(image, writable: true))
        {
            await using var server = new NbdTestServer(device, new NbdServerOptions { ReadOnly = true });
            var info = CheckResult("nbdinfo", server.Uri);
            Assert.Contains("is_read_only: true", info.Stdout);
            // qemu sees NBD_FLAG_READ_ONLY and refuses to open for writing (the server's EPERM for a
            // write sent anyway is checked by NbdProtocolTests).
            var qemuWrite = Run("qemu-io", ["-f", "raw", server.Uri, "-c", "write -P 0x55 0 4k"]);
            Assert.NotEqual(0, qemuWrite.ExitCode);
            Assert.Contains("Permission denied", qemuWrite.All);
        }
        Assert.Equal(hash, Hashing.Sha256File(image));
    }

    /// <summary>Chain-shaped test device: top generation 2 over 1 over 0, with holes and zeros.</summary>
    private static LayeredTestDevice LayeredDevice() => new([
        new(1 * MiB, ExtentKind.Data, 0),
        new(512 * 1024, ExtentKind.Unallocated, -1),
        new(2 * MiB, ExtentKind.Data, 2),
        new(1 * MiB, ExtentKind.Zero, 2),
        new(1 * MiB, ExtentKind.Zero, 1),
        new(1536 * 1024, ExtentKind.Data, 1),
        new(1 * MiB, ExtentKind.Data, 0),
        new(8 * MiB, ExtentKind.Unallocated, -1),
    ]);

    [NbdToolsFact]
    public async Task Nbdinfo_map_reports_data_zeros_and_holes_as_the_device_describes_them()
    {
        var device = LayeredDevice();
        await using var server = new NbdTestServer(device, new NbdServerOptions { TopGeneration = 2 });

        var map = ParseMap(CheckResult("nbdinfo", "--map", server.Uri).Stdout);
        // base:allocation: data = 0, zeros of the top = 2 (zero), zeros below the top and holes = 3 (hole,zero).
        (long, long, uint)[] expected =
        [
            (0, 1 * MiB, 0),
            (1 * MiB, 512 * 1024, 3),
            (1536 * 1024, 2 * MiB, 0),
            (3584 * 1024, 1 * MiB, 2),
            (4608 * 1024, 1 * MiB, 3),
            (5632 * 1024, 2560 * 1024, 0),
            (8 * MiB, 8 * MiB, 3),
        ];
        Assert.Equal(expected, map);
    }

    [NbdToolsFact]
    public async Task Nbdinfo_map_of_mountchain_generation_names_the_link_serving_each_range()
    {
        var device = LayeredDevice();
        await using var server = new NbdTestServer(device, new NbdServerOptions { TopGeneration = 2 });

        var map = ParseMap(CheckResult("nbdinfo", "--map=mountchain:generation", server.Uri).Stdout);
        // status = generation + 1; 0 where no link holds the range.
        (long, long, uint)[] expected =
        [
            (0, 1 * MiB, 1),
            (1 * MiB, 512 * 1024, 0),
            (1536 * 1024, 3 * MiB, 3),
            (4608 * 1024, 2560 * 1024, 2),
            (7 * MiB, 1 * MiB, 1),
            (8 * MiB, 8 * MiB, 0),
        ];
        Assert.Equal(expected, map);
    }

    [NbdToolsFact]
    public async Task Nbdcopy_to_a_file_equals_the_source_and_keeps_its_holes()
    {
        using var dir = new TempDirectory();
        var device = LayeredDevice();
        await using var server = new NbdTestServer(device, new NbdServerOptions { TopGeneration = 2 });

        string copy = dir.File("copy.raw");
        Check("nbdcopy", server.Uri, copy);
        Assert.True(File.ReadAllBytes(copy).AsSpan().SequenceEqual(device.Content));

        string random = dir.RandomImage("random.raw", ImageSize);
        using var raw = new RawFileBlockDevice(random);
        await using var rawServer = new NbdTestServer(raw);
        string copy2 = dir.File("copy2.raw");
        Check("nbdcopy", "--connections=4", "--requests=64", rawServer.Uri, copy2);
        Assert.Equal(Hashing.Sha256File(random), Hashing.Sha256File(copy2));
    }

    [NbdToolsFact]
    public async Task Nbdinfo_list_shows_the_export_name_and_description()
    {
        using var device = new MemoryBlockDevice(new byte[MiB], writable: false);
        await using var server = new NbdTestServer(device, new NbdServerOptions { ExportName = "disk0", Description = "test disk generation 3" });

        var list = CheckResult("nbdinfo", "--list", $"nbd://127.0.0.1:{server.Port}");
        Assert.Contains("export=\"disk0\"", list.Stdout);
        Assert.Contains("description: test disk generation 3", list.Stdout);
        Assert.Contains("export-size: 1048576", list.Stdout);

        var unknown = Run("nbdinfo", [$"nbd://127.0.0.1:{server.Port}/nosuch"]);
        Assert.NotEqual(0, unknown.ExitCode);
    }

    [NbdToolsFact]
    public async Task A_client_sending_garbage_is_disconnected_while_a_concurrent_copy_completes()
    {
        using var dir = new TempDirectory();
        string source = dir.RandomImage("source.raw", ImageSize);
        using var device = new RawFileBlockDevice(source);
        await using var server = new NbdTestServer(device);

        using var handshakeGarbage = new RawNbdClient(server.Port);
        handshakeGarbage.ReadExact(18);
        using var badMagic = new RawNbdClient(server.Port);
        badMagic.Handshake();
        using var oversized = new RawNbdClient(server.Port);
        oversized.Handshake(structured: false);
        using var silent = new RawNbdClient(server.Port); // connected, never speaks: must not hold anyone up

        string copy = dir.File("copy.raw");
        var convert = RunAsync("qemu-img", ["convert", "-f", "raw", "-O", "raw", server.Uri, copy]);

        handshakeGarbage.Send(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        badMagic.SendRequest(type: 0, cookie: 1, offset: 0, length: 4096, magic: 0xdeadbeef);
        oversized.SendRequest(type: 0, cookie: 2, offset: 0, length: 64 * 1024 * 1024);

        Assert.True(handshakeGarbage.WasClosedByServer());
        Assert.True(badMagic.WasClosedByServer());
        Assert.True(oversized.WasClosedByServer());

        var result = await convert;
        Assert.True(result.ExitCode == 0, result.All);
        Assert.Equal(Hashing.Sha256File(source), Hashing.Sha256File(copy));

        var log = server.Log.ToArray();
        Assert.Contains(log, l => l.Contains("unknown client flags") && l.Contains("closing"));
        Assert.Contains(log, l => l.Contains("bad request magic 0xdeadbeef"));
        Assert.Contains(log, l => l.Contains("exceeds") && l.Contains("maximum payload"));
        Assert.All(log, l => Assert.DoesNotContain('\n', l));
    }

    [NbdToolsFact]
    public async Task A_unix_socket_export_serves_qemu_img_and_nbdinfo()
    {
        using var dir = new TempDirectory();
        string source = dir.RandomImage("source.raw", 8 * MiB);
        string socketPath = dir.File("nbd.sock");
        using var device = new RawFileBlockDevice(source);
        await using (var server = new NbdTestServer(device, unixSocket: socketPath))
        {
            Assert.Equal($"nbd+unix://?socket={socketPath}", server.Uri);
            string copy = dir.File("copy.raw");
            Check("qemu-img", "convert", "-f", "raw", "-O", "raw", $"nbd+unix:///?socket={socketPath}", copy);
            Assert.Equal(Hashing.Sha256File(source), Hashing.Sha256File(copy));
            Assert.Contains("export-size: 8388608", CheckResult("nbdinfo", $"nbd+unix:///?socket={socketPath}").Stdout);
        }
        Assert.False(File.Exists(socketPath)); // removed on shutdown
    }

    /// <summary>Parses "offset length type [description]" lines of nbdinfo --map.</summary>
    private static (long, long, uint)[] ParseMap(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(f => (long.Parse(f[0]), long.Parse(f[1]), uint.Parse(f[2])))
            .ToArray();

    private static int CountOf(string text, string what) =>
        text.Split('\n').Count(l => l.StartsWith(what, StringComparison.Ordinal));
}
