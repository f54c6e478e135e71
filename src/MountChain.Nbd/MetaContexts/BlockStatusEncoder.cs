using System.Buffers.Binary;
using MountChain.Core.BlockDevices;
using MountChain.Nbd.Protocol;

namespace MountChain.Nbd.MetaContexts;

/// <summary>
/// Turns device extents into NBD block-status descriptors (proto.md "NBD_REPLY_TYPE_BLOCK_STATUS"):
/// 32-bit length + 32-bit status, neighbours with equal status merged.
/// </summary>
internal static class BlockStatusEncoder
{
    /// <summary>Bytes of one descriptor.</summary>
    public const int DescriptorSize = 8;

    /// <summary>Cap per chunk; proto.md asks for at most 2^20, fewer is allowed and clients continue where we stopped.</summary>
    public const int MaxDescriptors = 1 << 16;

    /// <summary>Largest single descriptor length, kept a multiple of 512 (status lengths are 32-bit).</summary>
    public const uint MaxDescriptorLength = 0xFFFF_FE00;

    public static uint StatusOf(MetaContext context, in BlockExtent extent, int? topGeneration) => context switch
    {
        MetaContext.BaseAllocation => extent.Kind switch
        {
            ExtentKind.Data => 0,
            ExtentKind.Unallocated => AllocationState.Hole | AllocationState.Zero,
            // Zeros recorded by a lower link: the top holds nothing there, so it is a hole of the top.
            _ => extent.Generation < 0 || (topGeneration is int top && extent.Generation != top)
                ? AllocationState.Hole | AllocationState.Zero
                : AllocationState.Zero,
        },
        MetaContext.Generation => extent.Generation < 0 ? 0u : (uint)extent.Generation + 1,
        _ => 0,
    };

    /// <summary>
    /// Writes descriptors for <paramref name="extents"/> (which start at the request offset) into
    /// <paramref name="output"/>; returns the number written. With <paramref name="requestOne"/>
    /// exactly one descriptor, no longer than <paramref name="requestLength"/>.
    /// </summary>
    public static int Encode(MetaContext context, List<BlockExtent> extents, long requestLength, bool requestOne,
        int? topGeneration, Span<byte> output)
    {
        var writer = new DescriptorWriter(requestOne ? 1 : Math.Min(MaxDescriptors, output.Length / DescriptorSize),
            requestLength, requestOne);
        long pendingLength = 0;
        uint pendingStatus = 0;
        foreach (var extent in extents)
        {
            if (extent.Length <= 0) continue;
            uint status = StatusOf(context, extent, topGeneration);
            if (pendingLength > 0 && status != pendingStatus)
            {
                if (!writer.Emit(output, pendingLength, pendingStatus)) return writer.Count;
                pendingLength = 0;
            }
            pendingStatus = status;
            pendingLength += extent.Length;
        }
        if (pendingLength > 0) writer.Emit(output, pendingLength, pendingStatus);
        return writer.Count;
    }

    private struct DescriptorWriter(int maxDescriptors, long requestLength, bool requestOne)
    {
        public int Count;
        private long _covered;

        /// <summary>Emits one merged run, split at the 32-bit limit; false once the chunk is full.</summary>
        public bool Emit(Span<byte> output, long length, uint status)
        {
            while (length > 0)
            {
                if (Count == maxDescriptors || _covered >= requestLength) return false;
                long piece = Math.Min(length, MaxDescriptorLength);
                if (requestOne) piece = Math.Min(piece, requestLength);
                var slot = output.Slice(Count * DescriptorSize, DescriptorSize);
                BinaryPrimitives.WriteUInt32BigEndian(slot, (uint)piece);
                BinaryPrimitives.WriteUInt32BigEndian(slot[4..], status);
                Count++;
                _covered += piece;
                length -= piece;
            }
            return true;
        }
    }
}
