using System.Diagnostics;

namespace MountChain.Fuzz.Harness;

/// <summary>
/// The rules every input is held to (issue 15): only documented input errors, at most
/// <see cref="AllocationLimit"/> bytes allocated, at most <see cref="TimeLimit"/> of work.
/// </summary>
public static class FuzzCheck
{
    public const long AllocationLimit = 64L * 1024 * 1024;
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Runs one input; throws <see cref="FuzzFailure"/> when a rule is broken, else returns the input
    /// error it was rejected with (null: accepted). The time rule is the caller's (AFL's -t, or <see cref="RunBounded"/>).
    /// </summary>
    public static string? Run(FuzzTarget target, byte[] input, Scratch scratch)
    {
        scratch.Clear();
        long before = GC.GetTotalAllocatedBytes(precise: false);
        string? rejection = null;
        try
        {
            target.Body(input, scratch);
        }
        catch (Exception e) when (InputErrors.IsDocumented(e))
        {
            rejection = $"{e.GetType().Name}: {e.Message}";
        }
        catch (Exception e)
        {
            throw new FuzzFailure($"{target.Name}: undocumented {e.GetType().Name}: {e.Message}", e);
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - before;
        if (allocated > AllocationLimit)
            throw new FuzzFailure($"{target.Name}: allocated {allocated / (1024 * 1024)} MiB for one input (limit {AllocationLimit / (1024 * 1024)} MiB)");
        return rejection;
    }

    /// <summary>
    /// As <see cref="Run"/> on a worker thread, failing when the input takes longer than the time
    /// limit (run twice first, so that JIT compilation on a loaded machine is not blamed).
    /// </summary>
    public static string? RunBounded(FuzzTarget target, byte[] input, Scratch scratch, TimeSpan? hangAfter = null)
    {
        var (elapsed, rejection) = TimeOnce(target, input, scratch, hangAfter ?? TimeSpan.FromSeconds(30));
        if (elapsed <= TimeLimit) return rejection;
        (elapsed, rejection) = TimeOnce(target, input, scratch, hangAfter ?? TimeSpan.FromSeconds(30));
        if (elapsed > TimeLimit)
            throw new FuzzFailure($"{target.Name}: one input took {elapsed.TotalMilliseconds:F0} ms (limit {TimeLimit.TotalMilliseconds:F0} ms)");
        return rejection;
    }

    private static (TimeSpan, string?) TimeOnce(FuzzTarget target, byte[] input, Scratch scratch, TimeSpan hangAfter)
    {
        Exception? failure = null;
        string? rejection = null;
        var watch = Stopwatch.StartNew();
        // The CLI's main thread has an 8 MiB stack; so does the worker, so recursion depth is judged alike.
        var worker = new Thread(() =>
        {
            try { rejection = Run(target, input, scratch); }
            catch (Exception e) { failure = e; }
        }, 8 * 1024 * 1024) { IsBackground = true, Name = $"fuzz {target.Name}" };
        worker.Start();
        if (!worker.Join(hangAfter))
            throw new FuzzFailure($"{target.Name}: input still running after {hangAfter.TotalSeconds:F0} s (a hang)");
        watch.Stop();
        if (failure is not null) throw failure;
        return (watch.Elapsed, rejection);
    }
}
