using System.Diagnostics;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.Nbd;

/// <summary>
/// The server's memory under clients that pipeline large reads and never read the replies: it stays
/// bounded (per connection and in total) while a good client is served, and is given back once the
/// server is idle. Measured as the resident set of a real `mountchain serve` process.
/// </summary>
public sealed class NbdMemoryBoundTests
{
    private const int BadClients = 24;
    private const int ReadsPerBadClient = 64;
    private const uint ReadLength = 32 * 1024 * 1024;

    /// <summary>
    /// The bound asserted: the runtime and the image's page-cache-free working set (~60 MB), the
    /// 128 MiB server-wide budget, and one 1 MiB chunk per connection for its streamed reply; a
    /// server that held each connection's 32 MiB replies (the old behaviour) passes 800 MB here.
    /// </summary>
    private const long PeakBoundBytes = 360L * 1024 * 1024;

    [NbdToolsFact]
    public async Task Clients_that_never_read_replies_leave_memory_bounded_while_a_good_client_is_served()
    {
        using var dir = new TempDirectory();
        string image = dir.RandomImage("disk.raw", 64 * 1024 * 1024);
        using var server = Process.Start(MountChainCli.StartInfo(["serve", image, "--listen", "127.0.0.1:0"]))!;
        var stderr = server.StandardError.ReadToEndAsync();
        var clients = new List<RawNbdClient>();
        try
        {
            string uri = (await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Split(' ')[^1];
            int port = int.Parse(uri.Split(':')[^1]);
            using var sampler = new RssSampler(server.Id);

            for (int c = 0; c < BadClients; c++)
            {
                var client = new RawNbdClient(port);
                clients.Add(client);
                client.Handshake(structured: c % 2 == 0);
                // 64 × 32 MiB reads in 1.8 KB of requests, and not one byte of the replies is read.
                for (int i = 0; i < ReadsPerBadClient; i++)
                    client.SendRequest(0, (ulong)i, (ulong)(i % 2) * ReadLength, ReadLength);
            }
            await Task.Delay(2000); // let the server take every request it will take

            // A good client reads the whole export meanwhile.
            string copy = dir.File("copy.raw");
            var convert = Run("qemu-img", ["convert", "-f", "raw", "-O", "raw", uri, copy], timeout: TimeSpan.FromMinutes(2));
            Assert.True(convert.ExitCode == 0, convert.All);
            Assert.Equal(Hashing.Sha256File(image), Hashing.Sha256File(copy));
            long stalledPeak = sampler.Peak;

            foreach (var client in clients) client.Dispose();
            clients.Clear();
            // Idle: the pool is dropped after 5 s without requests and the pages decommitted.
            long settled = long.MaxValue;
            for (int i = 0; i < 40 && settled > 150L * 1024 * 1024; i++)
            {
                await Task.Delay(500);
                settled = RssSampler.Rss(server.Id);
            }

            Assert.True(stalledPeak < PeakBoundBytes,
                $"server RSS peaked at {stalledPeak >> 20} MiB with {BadClients} stalled clients (bound {PeakBoundBytes >> 20} MiB)");
            Assert.True(settled < 150L * 1024 * 1024, $"server RSS still {settled >> 20} MiB after the clients left (peak {stalledPeak >> 20} MiB)");
            Console.WriteLine($"nbd memory: peak {stalledPeak >> 20} MiB with {BadClients} stalled clients, {settled >> 20} MiB when idle");
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
            if (!server.HasExited) { server.Kill(); await server.WaitForExitAsync(); }
        }
    }

    [NbdToolsFact]
    public async Task Reads_and_writes_longer_than_a_chunk_stream_correctly_over_a_writable_export()
    {
        using var dir = new TempDirectory();
        string b = dir.File("base.vmdk"), redo = dir.File("redo.vmdk");
        Check("qemu-img", "create", "-q", "-f", "vmdk", b, "32M");
        Check("qemu-io", "-f", "vmdk", "-c", "write -P 0x11 0 32M", b);
        using var server = Process.Start(MountChainCli.StartInfo(["serve", b, "--write", "--redo", redo, "--listen", "127.0.0.1:0"]))!;
        try
        {
            string uri = (await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Split(' ')[^1];
            // 5 MiB + 3 bytes at an odd offset: several chunks, a short last one, FUA on the second write.
            var io = CheckResult("qemu-io", "-f", "raw", uri,
                "-c", "write -P 0x5a 1048577 5242883", "-c", "write -f -P 0x6b 20M 3M",
                "-c", "read -P 0x5a 1048577 5242883", "-c", "read -P 0x11 0 1048577", "-c", "read -P 0x11 6291460 1M",
                "-c", "read -P 0x6b 20M 3M");
            Assert.DoesNotContain("fail", io.All);
            Check("kill", "-TERM", server.Id.ToString());
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, server.ExitCode);
            // What the redo log holds, read by qemu: the writes landed.
            var check = CheckResult("qemu-io", "-r", "-f", "vmdk", redo, "-c", "read -P 0x5a 1048577 5242883", "-c", "read -P 0x6b 20M 3M");
            Assert.DoesNotContain("fail", check.All);
        }
        finally
        {
            if (!server.HasExited) { server.Kill(); await server.WaitForExitAsync(); }
        }
    }
}

/// <summary>Samples a process's resident set every 50 ms until disposed; <see cref="Peak"/> is the highest seen (or VmHWM, if higher).</summary>
public sealed class RssSampler : IDisposable
{
    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peak;

    public RssSampler(int pid)
    {
        _pid = pid;
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                long rss = Rss(pid);
                if (rss > Interlocked.Read(ref _peak)) Interlocked.Exchange(ref _peak, rss);
                try { await Task.Delay(50, _stop.Token); } catch (OperationCanceledException) { }
            }
        });
    }

    public long Peak => Math.Max(Interlocked.Read(ref _peak), Field(_pid, "VmHWM:"));

    /// <summary>VmRSS of <paramref name="pid"/> in bytes (0 once it is gone).</summary>
    public static long Rss(int pid) => Field(pid, "VmRSS:");

    private static long Field(int pid, string name)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
