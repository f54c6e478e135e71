using MountChain.Nbd.MetaContexts;

namespace MountChain.Nbd.Handshake;

/// <summary>What option haggling agreed on, carried into the transmission phase.</summary>
internal sealed record NegotiatedSession(bool StructuredReplies, IReadOnlyList<MetaContext> MetaContexts);
