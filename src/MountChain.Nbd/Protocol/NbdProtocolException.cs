namespace MountChain.Nbd.Protocol;

/// <summary>The peer broke the protocol in a way that leaves no choice but to close its connection (proto.md: hard disconnect).</summary>
public sealed class NbdProtocolException(string message) : Exception(message);
