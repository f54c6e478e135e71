using MountChain.Nbd.MetaContexts;
using MountChain.Nbd.Transport;

namespace MountChain.Nbd.Handshake;

/// <summary>What option haggling agreed on, carried into the transmission phase (over TLS when STARTTLS was done).</summary>
internal sealed record NegotiatedSession(bool StructuredReplies, IReadOnlyList<MetaContext> MetaContexts, NbdTransport Transport);
