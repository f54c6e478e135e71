using System.Buffers;
using MountChain.Nbd.Protocol;

namespace MountChain.Nbd.Transmission;

/// <summary>
/// The server's pool of request and reply buffers (none larger than one stream chunk is kept). It is
/// ours rather than <see cref="ArrayPool{T}.Shared"/> so that an idle server can drop it whole and
/// give the memory back to the system, instead of keeping a burst's buffers for the process's life.
/// </summary>
internal sealed class ReplyBuffers
{
    /// <summary>Arrays kept per size class: a full pool holds at most about 2 × 64 stream chunks.</summary>
    private const int ArraysPerSize = 64;

    private ArrayPool<byte> _pool = NewPool();
    private long _lastRent = Environment.TickCount64;
    private int _rented;
    private bool _used;

    private static ArrayPool<byte> NewPool() => ArrayPool<byte>.Create(NbdWireSize.StreamChunk, ArraysPerSize);

    public byte[] Rent(int length)
    {
        Volatile.Write(ref _lastRent, Environment.TickCount64);
        Volatile.Write(ref _used, true);
        Interlocked.Increment(ref _rented);
        return Volatile.Read(ref _pool).Rent(length);
    }

    /// <summary>Every pool instance has the same size classes, so a buffer may come back after a trim.</summary>
    public void Return(byte[] buffer)
    {
        Interlocked.Decrement(ref _rented);
        Volatile.Read(ref _pool).Return(buffer);
    }

    /// <summary>
    /// When nothing is rented and nothing was for <paramref name="idle"/>, drops the pooled arrays and
    /// runs a compacting collection so their pages are decommitted. True when it trimmed.
    /// </summary>
    public bool TrimIfIdle(TimeSpan idle)
    {
        if (!Volatile.Read(ref _used) || Volatile.Read(ref _rented) != 0) return false;
        if (Environment.TickCount64 - Volatile.Read(ref _lastRent) < (long)idle.TotalMilliseconds) return false;
        Volatile.Write(ref _pool, NewPool());
        Volatile.Write(ref _used, false);
        // Aggressive: compacts the large-object heap too and decommits what is free.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return true;
    }
}
