using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using MountChain.Cli.Infrastructure;
using MountChain.Nbd.Server;

namespace MountChain.Cli.Commands;

/// <summary><c>mountchain serve</c>: export a generation over NBD until SIGINT/SIGTERM.</summary>
public static class ServeCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return CreateServe();
    }

    private static Command CreateServe()
    {
        var command = new Command("serve", "Export a generation (or a raw image) over NBD until interrupted (SIGINT/SIGTERM)");
        var source = new DiskSource().AddTo(command);
        var listen = new Option<string?>("--listen") { Description = $"TCP address HOST:PORT to listen on (default 127.0.0.1:{NbdServerOptions.DefaultPort}; port 0 picks a free one)" };
        var socketPath = new Option<string?>("--socket") { Description = "Listen on this Unix socket path instead of TCP" };
        var exportName = new Option<string>("--export-name") { Description = "Export name clients ask for (the default empty name is always accepted)", DefaultValueFactory = _ => "" };
        command.Options.Add(listen);
        command.Options.Add(socketPath);
        command.Options.Add(exportName);
        var tls = new ServeTlsOptions().AddTo(command);
        command.Options.Add(CommonOptions.Json);
        CommonOptions.AddWriteOptions(command);

        command.SetAction(parse =>
        {
            string? listenText = parse.GetValue(listen);
            string? socket = parse.GetValue(socketPath);
            if (listenText != null && socket != null) throw new UsageException("--listen and --socket exclude each other");
            CommonOptions.RefuseRedoWithoutWrite(parse);

            EndPoint endpoint = socket != null
                ? new UnixDomainSocketEndPoint(Path.GetFullPath(socket))
                : ParseListen(listenText ?? $"127.0.0.1:{NbdServerOptions.DefaultPort}");
            var security = tls.Read(parse);
            if (security.Tls == NbdTlsMode.Off && endpoint is IPEndPoint { Address: var address } && !IPAddress.IsLoopback(address))
                Console.Error.WriteLine($"mountchain: warning: serving {endpoint} without TLS: anyone who can reach it reads the disk in plaintext (use --tls-cert/--tls-key, --allow)");

            using var disk = CommonOptions.OpenReadOrWrite(parse, source);
            bool writable = disk.Device.CanWrite;
            string name = parse.GetValue(exportName) ?? "";
            var server = new NbdServer(disk.Device, security with
            {
                Endpoints = [endpoint],
                ExportName = name,
                Description = $"{Path.GetFileName(disk.SourcePath)} generation {disk.Generation}",
                ReadOnly = !writable,
                TopGeneration = disk.Device.TopGeneration,
                Log = line => Console.Error.WriteLine($"mountchain: {line}"),
            });

            using var stop = new CancellationTokenSource();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            server.Start();
            string mode = writable ? $" writable, redo log {disk.RedoLogPath}" : "";
            string uri = Uri(server.BoundEndpoints[0], name, security.Tls == NbdTlsMode.Require);
            if (parse.GetValue(CommonOptions.Json))
                Json.Write(new ServeResult(disk.SourcePath, disk.Generation, uri, writable, disk.RedoLogPath), Json.Types.ServeResult);
            else Console.Out.WriteLine($"serving {disk.SourcePath} generation {disk.Generation}{mode} on {uri}");
            Console.Out.Flush();
            server.RunAsync(stop.Token).GetAwaiter().GetResult();
            return ExitCodes.Success;

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true; // we shut down ourselves: finish requests, flush, close
                stop.Cancel();
            }
        });
        return command;
    }

    /// <summary>HOST:PORT, [IPv6]:PORT or a host name such as localhost.</summary>
    internal static IPEndPoint ParseListen(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out int port) || port is < 0 or > 65535)
            throw new UsageException($"--listen {text}: expected HOST:PORT");
        string host = text[..colon].Trim('[', ']');
        if (IPAddress.TryParse(host, out var address)) return new IPEndPoint(address, port);
        var addresses = Dns.GetHostAddresses(host);
        if (addresses.Length == 0) throw new UsageException($"--listen {text}: host {host} has no address");
        return new IPEndPoint(addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0], port);
    }

    /// <summary>The NBD URI a client would use (nbd:// or nbd+unix://, as in the NBD URI specification).</summary>
    internal static string Uri(EndPoint endpoint, string exportName, bool tls = false)
    {
        string export = System.Uri.EscapeDataString(exportName);
        string scheme = tls ? "nbds" : "nbd";
        return endpoint switch
        {
            UnixDomainSocketEndPoint unix => $"{scheme}+unix:///{export}?socket={unix}",
            IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"{scheme}://[{ip.Address}]:{ip.Port}{(export.Length > 0 ? "/" + export : "")}",
            IPEndPoint ip => $"{scheme}://{ip.Address}:{ip.Port}{(export.Length > 0 ? "/" + export : "")}",
            _ => endpoint.ToString()!,
        };
    }
}
