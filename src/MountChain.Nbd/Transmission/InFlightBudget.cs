namespace MountChain.Nbd.Transmission;

/// <summary>
/// Bounds the bytes of requests being served at once on one connection: the receive loop waits here
/// before taking the next request, replies give their share back once sent. This is the back-pressure
/// that keeps a pipelined client (nbdcopy keeps 64 requests in flight) from making us buffer without limit.
/// Exactly one waiter (the receive loop) at a time.
/// </summary>
internal sealed class InFlightBudget(long capacity)
{
    private readonly object _lock = new();
    private long _available = capacity;
    private long _wanted;
    private TaskCompletionSource? _waiter;

    public long Capacity { get; } = capacity;

    public ValueTask AcquireAsync(long cost)
    {
        cost = Math.Min(cost, Capacity);
        lock (_lock)
        {
            if (_available >= cost)
            {
                _available -= cost;
                return ValueTask.CompletedTask;
            }
            _wanted = cost;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask(_waiter.Task);
        }
    }

    public void Release(long cost)
    {
        cost = Math.Min(cost, Capacity);
        TaskCompletionSource? wake = null;
        lock (_lock)
        {
            _available += cost;
            if (_waiter != null && _available >= _wanted)
            {
                _available -= _wanted;
                wake = _waiter;
                _waiter = null;
            }
        }
        wake?.SetResult();
    }

    /// <summary>Completes once every acquired share has been released (takes the whole budget).</summary>
    public ValueTask WaitIdleAsync() => AcquireAsync(Capacity);
}
