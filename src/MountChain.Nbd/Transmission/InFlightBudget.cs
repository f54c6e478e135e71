namespace MountChain.Nbd.Transmission;

/// <summary>
/// Bounds the bytes of requests being served at once on one connection, and through the shared
/// <see cref="ServerBudget"/> over all of them: the receive loop waits here before taking the next
/// request, replies give their share back once sent. A client that pipelines reads and never reads
/// the replies therefore stops being read from once its budget is spent (back-pressure).
/// A connection with nothing in flight is always let through (one request), so spent shared budget
/// held by stalled clients never blocks a client that reads its replies.
/// Exactly one waiter (the receive loop) at a time.
/// </summary>
internal sealed class InFlightBudget(long capacity, ServerBudget shared)
{
    private readonly object _lock = new();
    private long _available = capacity;
    private long _wanted;
    private TaskCompletionSource? _waiter;
    private TaskCompletionSource? _idleWaiter;

    public long Capacity { get; } = capacity;

    public ValueTask AcquireAsync(long cost)
    {
        cost = Math.Min(cost, Capacity);
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (TryTake(cost)) return ValueTask.CompletedTask;
            _wanted = cost;
            waiter = _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        shared.Subscribe(this);
        Retry(); // a release may have come between the failed take and the subscription
        return new ValueTask(waiter.Task);
    }

    public void Release(long cost)
    {
        cost = Math.Min(cost, Capacity);
        TaskCompletionSource? idle = null;
        lock (_lock)
        {
            _available += cost;
            if (_available == Capacity && _idleWaiter != null) (idle, _idleWaiter) = (_idleWaiter, null);
        }
        shared.Release(cost);
        Retry();
        idle?.SetResult();
    }

    /// <summary>Completes once every acquired share has been released.</summary>
    public Task WaitIdleAsync()
    {
        lock (_lock)
        {
            if (_available == Capacity) return Task.CompletedTask;
            _idleWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idleWaiter.Task;
        }
    }

    /// <summary>Lets the waiting receive loop go on if its request now fits (called on local and shared releases).</summary>
    internal void Retry()
    {
        TaskCompletionSource? wake = null;
        lock (_lock)
        {
            if (_waiter != null && TryTake(_wanted)) (wake, _waiter) = (_waiter, null);
        }
        if (wake == null) return;
        shared.Unsubscribe(this);
        wake.SetResult();
    }

    /// <summary>Under <see cref="_lock"/>: takes the cost from both budgets, the shared one overdrawn when this connection is idle.</summary>
    private bool TryTake(long cost)
    {
        if (_available < cost) return false;
        if (!shared.TryTake(cost, overdraft: _available == Capacity)) return false;
        _available -= cost;
        return true;
    }
}

/// <summary>The byte budget of requests in flight over all connections of one server.</summary>
internal sealed class ServerBudget(long capacity)
{
    private readonly object _lock = new();
    private readonly HashSet<InFlightBudget> _waiting = [];
    private long _available = capacity;

    public long Capacity { get; } = capacity;

    /// <summary>Bytes currently taken (may exceed the capacity by the idle connections' overdrafts).</summary>
    public long InUse { get { lock (_lock) return Capacity - _available; } }

    public bool TryTake(long cost, bool overdraft)
    {
        lock (_lock)
        {
            if (!overdraft && _available < cost) return false;
            _available -= cost;
            return true;
        }
    }

    public void Release(long cost)
    {
        InFlightBudget[] waiting;
        lock (_lock)
        {
            _available += cost;
            if (_waiting.Count == 0) return;
            waiting = [.. _waiting];
        }
        foreach (var budget in waiting) budget.Retry();
    }

    public void Subscribe(InFlightBudget budget) { lock (_lock) _waiting.Add(budget); }

    public void Unsubscribe(InFlightBudget budget) { lock (_lock) _waiting.Remove(budget); }
}
