using System.Security.Cryptography.X509Certificates;
using static MountChain.Tests.Infrastructure.ProcessRunner;

namespace MountChain.Tests.Nbd;

/// <summary>
/// A throw-away CA and the certificates it signs, made by openssl at test time, laid out the way
/// qemu's tls-creds-x509 and libnbd's tls-certificates expect: <c>server/</c> holds the server's
/// certificate and key, <c>client/</c> the CA (ca-cert.pem) and a client certificate and key.
/// </summary>
public sealed class TlsTestCertificates
{
    public TlsTestCertificates(TempDirectory dir)
    {
        ServerDir = dir.Dir("tls-server");
        ClientDir = dir.Dir("tls-client");
        string work = dir.Dir("tls-work");
        Bash($$"""
            set -e
            cd '{{work}}'
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
            key ca-key.pem
            openssl req -x509 -new -key ca-key.pem -out ca-cert.pem -days 2 -subj /CN=mountchain-test-ca \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
            sign() { # name subject extensions
              key "$1-key.pem"
              openssl req -new -key "$1-key.pem" -out "$1.csr" -subj "$2"
              printf '%s\n' "$3" > "$1.ext"
              openssl x509 -req -in "$1.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -out "$1-cert.pem" -days 2 -extfile "$1.ext" 2>/dev/null
            }
            sign server /CN=localhost 'subjectAltName=IP:127.0.0.1,DNS:localhost
            extendedKeyUsage=serverAuth'
            sign client /CN=mountchain-test-client 'extendedKeyUsage=clientAuth'
            cp ca-cert.pem server-cert.pem server-key.pem '{{ServerDir}}/'
            cp ca-cert.pem client-cert.pem client-key.pem '{{ClientDir}}/'
            """);
        // A directory with only the CA: a client that can check the server but has no certificate of its own.
        AnonymousClientDir = dir.Dir("tls-anonymous");
        File.Copy(Path.Combine(work, "ca-cert.pem"), Path.Combine(AnonymousClientDir, "ca-cert.pem"));
    }

    public string ServerDir { get; }
    public string ClientDir { get; }
    public string AnonymousClientDir { get; }
    public string CaCert => Path.Combine(ClientDir, "ca-cert.pem");
    public string ServerCert => Path.Combine(ServerDir, "server-cert.pem");
    public string ServerKey => Path.Combine(ServerDir, "server-key.pem");

    public X509Certificate2 Ca => X509CertificateLoader.LoadCertificateFromFile(CaCert);

    public X509Certificate2Collection ClientCertificate =>
        [X509Certificate2.CreateFromPemFile(Path.Combine(ClientDir, "client-cert.pem"), Path.Combine(ClientDir, "client-key.pem"))];

    /// <summary>qemu's <c>--object</c> for a TLS client reading its files from <paramref name="dir"/>.</summary>
    public static string QemuObject(string dir) => $"tls-creds-x509,id=tls0,endpoint=client,dir={dir}";

    /// <summary>qemu <c>--image-opts</c> for an NBD export over TLS on the loopback port.</summary>
    public static string QemuImage(int port) => $"driver=nbd,server.type=inet,server.host=127.0.0.1,server.port={port},tls-creds=tls0";
}
