using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MountChain.Cli.Infrastructure;
using MountChain.Nbd.Server;

namespace MountChain.Cli.Commands;

/// <summary><c>serve</c>'s access options: TLS (NBD_OPT_STARTTLS) and the --allow list of client networks.</summary>
public sealed class ServeTlsOptions
{
    private readonly Option<string?> _cert = new("--tls-cert") { Description = "PEM certificate (chain) of the server; turns TLS on" };
    private readonly Option<string?> _key = new("--tls-key") { Description = "PEM private key of --tls-cert" };
    private readonly Option<string?> _verifyPeer = new("--tls-verify-peer") { Description = "PEM file of CA certificates: clients must present a certificate issued by one of them" };
    private readonly Option<string?> _mode = new("--tls")
    {
        Description = "off | on (clients may stay in plaintext) | require (every option before STARTTLS is refused); default: require with --tls-cert, else off",
    };
    private readonly Option<string?> _allow = new("--allow") { Description = "CIDR,... : TCP clients from other addresses are disconnected at once (e.g. 127.0.0.1/32,10.1.0.0/16)" };

    public ServeTlsOptions AddTo(Command command)
    {
        _mode.AcceptOnlyFromAmong("off", "on", "require");
        command.Options.Add(_cert);
        command.Options.Add(_key);
        command.Options.Add(_verifyPeer);
        command.Options.Add(_mode);
        command.Options.Add(_allow);
        return this;
    }

    /// <summary>The TLS and allow-list part of the server options; certificate files that do not load are input errors naming the file.</summary>
    public NbdServerOptions Read(ParseResult parse)
    {
        string? cert = parse.GetValue(_cert), key = parse.GetValue(_key), ca = parse.GetValue(_verifyPeer);
        string? modeText = parse.GetValue(_mode);
        if (modeText == "off" && (cert != null || key != null || ca != null))
            throw new UsageException("--tls off excludes --tls-cert, --tls-key and --tls-verify-peer");
        var mode = modeText switch
        {
            "off" => NbdTlsMode.Off,
            "on" => NbdTlsMode.On,
            "require" => NbdTlsMode.Require,
            _ => cert != null || key != null || ca != null ? NbdTlsMode.Require : NbdTlsMode.Off,
        };
        if (mode != NbdTlsMode.Off && (cert == null || key == null))
            throw new UsageException("TLS needs both --tls-cert and --tls-key");
        return new NbdServerOptions
        {
            Tls = mode,
            TlsCertificate = mode == NbdTlsMode.Off ? null : LoadCertificate(cert!, key!),
            TlsClientAuthorities = ca == null ? null : LoadAuthorities(ca),
            Allow = ParseAllow(parse.GetValue(_allow)),
        };
    }

    private static X509Certificate2 LoadCertificate(string certPath, string keyPath)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new IOException($"{certPath}: cannot load the TLS certificate with key {keyPath}: {e.Message}");
        }
    }

    private static X509Certificate2Collection LoadAuthorities(string path)
    {
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (CryptographicException e)
        {
            throw new IOException($"{path}: cannot read CA certificates: {e.Message}");
        }
        if (authorities.Count == 0) throw new IOException($"{path}: no PEM certificate in the file");
        return authorities;
    }

    private static IReadOnlyList<IPNetwork>? ParseAllow(string? text)
    {
        if (text == null) return null;
        var networks = new List<IPNetwork>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // A bare address is a network of that one address.
            string cidr = part.Contains('/') ? part : IPAddress.TryParse(part, out var one) ? $"{one}/{(one.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32)}" : part;
            if (!IPNetwork.TryParse(cidr, out var network)) throw new UsageException($"--allow {part}: expected an address or ADDRESS/PREFIX");
            networks.Add(network);
        }
        if (networks.Count == 0) throw new UsageException("--allow: no network given");
        return networks;
    }
}
