using MountChain.Core.BlockDevices;
using MountChain.Nbd.Protocol;
using MountChain.Nbd.Transmission;

namespace MountChain.Nbd.Server;

/// <summary>The one export a server offers: the device, its name, and what clients may do with it.</summary>
/// <remarks>Also holds what all connections share: the buffer pool and the server-wide memory budget.</remarks>
internal sealed class NbdExport(IBlockDevice device, NbdServerOptions options)
{
    /// <summary>Smallest addressable unit: the devices are byte-addressable (proto.md "Size constraints").</summary>
    public const uint MinimumBlockSize = 1;
    /// <summary>Requests of this size and alignment avoid read-modify-write in any link format.</summary>
    public const uint PreferredBlockSize = 4096;
    public const uint MaximumPayload = NbdWireSize.MaxPayload;

    public IBlockDevice Device { get; } = device;
    public NbdServerOptions Options { get; } = options;
    public string Name => Options.ExportName;
    public string Description => Options.Description ?? "";
    public long Size => Device.Length;
    public bool Writable { get; } = device.CanWrite && !options.ReadOnly;

    /// <summary>Request and reply buffers of every connection (dropped when the server is idle).</summary>
    public ReplyBuffers Buffers { get; } = new();

    /// <summary>Bytes of requests in flight over all connections.</summary>
    public ServerBudget Budget { get; } = new(options.MaxInFlightBytesTotal);

    /// <summary>The empty name is the default export (proto.md "NBD_OPT_EXPORT_NAME").</summary>
    public bool Answers(string requestedName) => requestedName.Length == 0 || requestedName == Name;

    /// <summary>Transmission flags (proto.md "Transmission flags"). One shared device and no server cache: multi-conn is safe.</summary>
    public TransmissionFlags FlagsFor(bool structuredReplies)
    {
        var flags = TransmissionFlags.HasFlags | TransmissionFlags.SendFlush | TransmissionFlags.SendFua
            | TransmissionFlags.CanMultiConn;
        if (Writable) flags |= TransmissionFlags.SendTrim | TransmissionFlags.SendWriteZeroes;
        else flags |= TransmissionFlags.ReadOnly;
        // Our read replies are always one content chunk, so "don't fragment" costs nothing.
        if (structuredReplies) flags |= TransmissionFlags.SendDf;
        return flags;
    }
}
