using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using MountChain.Core.BlockDevices;

namespace MountChain.Nbd.Server;

/// <summary>
/// An NBD server (fixed newstyle, proto.md) exporting one <see cref="IBlockDevice"/> over TCP
/// and/or Unix sockets. Every connection is served on its own; a misbehaving client is
/// disconnected without disturbing the others. The caller owns the device: the server flushes it
/// on shutdown but does not dispose it.
/// </summary>
/// <example>
/// <code>
/// var server = new NbdServer(device, new NbdServerOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)] });
/// server.Start();                       // binds; BoundEndpoints now has the real port
/// await server.RunAsync(stoppingToken); // serves until cancelled
/// </code>
/// </example>
public sealed class NbdServer(IBlockDevice device, NbdServerOptions options)
{
    private readonly NbdExport _export = new(device, options);
    private readonly List<Socket> _listeners = [];
    private readonly List<string> _socketFiles = [];
    private readonly ConcurrentDictionary<NbdConnection, Task> _connections = new();
    private bool _started;

    public NbdServerOptions Options { get; } = options;

    /// <summary>Where the server actually listens (a TCP port 0 is replaced by the port the system chose).</summary>
    public IReadOnlyList<EndPoint> BoundEndpoints => _listeners.Select(l => l.LocalEndPoint!).ToList();

    /// <summary>Opens the listening sockets. Called by <see cref="RunAsync"/> when not done before.</summary>
    public void Start()
    {
        if (_started) return;
        if (Options.Endpoints.Count == 0) throw new ArgumentException("no endpoint to listen on");
        try
        {
            foreach (var endpoint in Options.Endpoints) _listeners.Add(Listen(endpoint));
        }
        catch
        {
            CloseListeners();
            throw;
        }
        _started = true;
    }

    private Socket Listen(EndPoint endpoint)
    {
        Socket socket;
        if (endpoint is UnixDomainSocketEndPoint unix)
        {
            string path = unix.ToString();
            // Never delete what is there: it may be another server's socket or someone's file.
            if (File.Exists(path) || Directory.Exists(path))
                throw new IOException($"{path}: already exists; remove it or choose another socket path");
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Bind(endpoint);
            _socketFiles.Add(path);
        }
        else
        {
            socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
        }
        socket.Listen(128);
        return socket;
    }

    /// <summary>
    /// Serves until <paramref name="ct"/> is cancelled; then stops accepting, lets every connection
    /// finish the requests it already read, flushes the device and closes the listeners.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        Start();
        var acceptLoops = _listeners.Select(l => AcceptLoopAsync(l, ct)).ToArray();
        using var trimmer = new Timer(_ => _export.Buffers.TrimIfIdle(Options.IdleTrimDelay), null, Options.IdleTrimDelay, Options.IdleTrimDelay);
        try
        {
            await Task.WhenAll(acceptLoops).ConfigureAwait(false);
        }
        finally
        {
            CloseListeners();
            await FinishConnectionsAsync().ConfigureAwait(false);
            if (device.CanWrite) device.Flush();
        }
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e) when (!ct.IsCancellationRequested)
            {
                // E.g. too many open files: say so and keep serving the clients we have.
                Options.Log($"nbd: accept failed: {e.Message}");
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            string peer = client.RemoteEndPoint is IPEndPoint ip ? ip.ToString() : $"unix#{client.Handle}";
            if (!Allowed(client.RemoteEndPoint))
            {
                Options.Log($"nbd: client {peer}: not in the --allow list; connection refused");
                client.Dispose();
                continue;
            }
            Configure(client);
            var connection = new NbdConnection(client, _export, peer);
            var task = Task.Run(() => connection.RunAsync(ct), CancellationToken.None);
            _connections.TryAdd(connection, task);
            _ = task.ContinueWith(_ => _connections.TryRemove(connection, out Task? _), TaskScheduler.Default);
        }
    }

    /// <summary>Waits for every connection to answer what it already read; past the grace period, closes the stragglers.</summary>
    private async Task FinishConnectionsAsync()
    {
        var all = Task.WhenAll(_connections.Values);
        try
        {
            await all.WaitAsync(Options.ShutdownGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var connection in _connections.Keys)
            {
                Options.Log($"nbd: client {connection.Peer}: still busy {Options.ShutdownGrace.TotalSeconds:0} s after shutdown began; closing the connection");
                connection.Abort();
            }
            await all.ConfigureAwait(false);
        }
    }

    /// <summary>TCP peers must be inside one of <see cref="NbdServerOptions.Allow"/> when it is set (IPv4-mapped IPv6 compared as IPv4).</summary>
    private bool Allowed(EndPoint? remote)
    {
        if (Options.Allow == null || remote is not IPEndPoint ip) return true;
        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        return Options.Allow.Any(network => network.Contains(address));
    }

    private void Configure(Socket client)
    {
        if (client.AddressFamily != AddressFamily.Unix) client.NoDelay = true;
        if (Options.SocketBufferSize > 0)
        {
            client.SendBufferSize = Options.SocketBufferSize;
            client.ReceiveBufferSize = Options.SocketBufferSize;
        }
    }

    private void CloseListeners()
    {
        foreach (var listener in _listeners) listener.Dispose();
        foreach (var path in _socketFiles)
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        _socketFiles.Clear();
    }
}
