using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Server;
using MountChain.Nbd.Transport;

namespace MountChain.Nbd.Handshake;

/// <summary>
/// The server side of the TLS handshake after NBD_OPT_STARTTLS was acknowledged (proto.md "TLS
/// support"): TLS 1.2 or later with the server's certificate, and, when authorities are configured,
/// a client certificate that chains to one of them.
/// </summary>
internal static class TlsUpgrade
{
    public static async Task<TlsTransport> RunAsync(Socket socket, NbdServerOptions options, CancellationToken ct)
    {
        var certificate = options.TlsCertificate ?? throw new InvalidOperationException("TLS enabled without a certificate");
        var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        var authorities = options.TlsClientAuthorities;
        var authentication = new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = authorities != null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = authorities == null
                ? null
                : (_, peer, _, _) => peer is X509Certificate2 client && IssuedBy(client, authorities),
        };
        try
        {
            await stream.AuthenticateAsServerAsync(authentication, ct).ConfigureAwait(false);
        }
        catch (AuthenticationException e)
        {
            stream.Dispose();
            throw new NbdProtocolException($"TLS handshake failed: {e.Message}{(e.InnerException != null ? $" ({e.InnerException.Message})" : "")}");
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new TlsTransport(stream, socket);
    }

    /// <summary>True when <paramref name="client"/> chains to one of <paramref name="authorities"/> (and to nothing else the system trusts).</summary>
    private static bool IssuedBy(X509Certificate2 client, X509Certificate2Collection authorities)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // id-kp-clientAuth
        return chain.Build(client);
    }
}
