using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MountChain.Core.BlockDevices;
using MountChain.Nbd.Server;

namespace MountChain.Tests.Nbd;

/// <summary>An in-process <see cref="NbdServer"/> on an ephemeral loopback port (or a Unix socket), stopped and awaited on dispose.</summary>
public sealed class NbdTestServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public NbdTestServer(IBlockDevice device, NbdServerOptions? options = null, string? unixSocket = null)
    {
        options ??= new NbdServerOptions();
        EndPoint endpoint = unixSocket != null ? new UnixDomainSocketEndPoint(unixSocket) : new IPEndPoint(IPAddress.Loopback, 0);
        Server = new NbdServer(device, options with { Endpoints = [endpoint], Log = Log.Enqueue });
        Server.Start();
        _run = Server.RunAsync(_stop.Token);
        Endpoint = Server.BoundEndpoints[0];
        string export = options.ExportName.Length > 0 ? "/" + options.ExportName : "";
        Uri = Endpoint is IPEndPoint ip ? $"nbd://127.0.0.1:{ip.Port}{export}" : $"nbd+unix://{export}?socket={unixSocket}";
    }

    public NbdServer Server { get; }
    public EndPoint Endpoint { get; }
    public string Uri { get; }
    public int Port => ((IPEndPoint)Endpoint).Port;

    /// <summary>Every line the server logged.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _run.WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }
}
