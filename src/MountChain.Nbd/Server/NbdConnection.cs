using System.Net.Sockets;
using MountChain.Nbd.Handshake;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Transmission;
using MountChain.Nbd.Transport;

namespace MountChain.Nbd.Server;

/// <summary>
/// One client from accept to close: handshake, then transmission. Whatever the client does wrong
/// ends this connection only, with one log line saying why.
/// </summary>
internal sealed class NbdConnection(Socket socket, NbdExport export, string peer)
{
    private readonly Action<string> _log = line => export.Options.Log($"nbd: client {peer}: {line}");

    public string Peer => peer;

    /// <summary>Closes the socket under a connection that did not finish in time (a client that stopped reading its replies).</summary>
    public void Abort()
    {
        try { socket.Dispose(); } catch (ObjectDisposedException) { }
    }

    public async Task RunAsync(CancellationToken serverStopping)
    {
        var reader = new MessageReader(new SocketTransport(socket));
        try
        {
            NegotiatedSession? session;
            using (var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(serverStopping))
            {
                handshakeTimeout.CancelAfter(export.Options.HandshakeTimeout);
                try
                {
                    session = await new OptionHaggler(socket, reader, export).RunAsync(handshakeTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!serverStopping.IsCancellationRequested)
                {
                    throw new NbdProtocolException($"handshake not finished within {export.Options.HandshakeTimeout.TotalSeconds:0} s");
                }
            }
            if (session == null) return;

            var budget = new InFlightBudget(export.Options.MaxInFlightBytesPerConnection, export.Budget);
            var sender = new ReplySender(session.Transport, budget, export.Buffers, export.Device, _log);
            var processor = new CommandProcessor(export, session, _log);
            await new TransmissionLoop(reader, sender, budget, processor, export.Buffers).RunAsync(serverStopping).ConfigureAwait(false);
        }
        catch (NbdProtocolException e)
        {
            _log($"{e.Message}; closing the connection");
        }
        catch (OperationCanceledException) when (serverStopping.IsCancellationRequested)
        {
            // Server shutdown: in-flight requests were finished by the transmission loop.
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            _log($"connection lost: {e.Message}");
        }
        catch (Exception e)
        {
            _log($"internal error: {e.GetType().Name}: {e.Message}; closing the connection");
        }
        finally
        {
            reader.Transport.Dispose(); // TLS or plain: shuts down and closes the socket
        }
    }
}
