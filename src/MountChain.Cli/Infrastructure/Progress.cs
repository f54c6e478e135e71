using System.Diagnostics;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// A one-line progress bar on stderr for long operations, shown only when stderr is a terminal
/// (quiet when piped or redirected), redrawn at most 10 times a second.
/// </summary>
public sealed class Progress : IDisposable
{
    private readonly string _label;
    private readonly long _total;
    private readonly bool _enabled;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;
    private long _done;

    public Progress(string label, long total, bool quiet = false)
    {
        _label = label;
        _total = Math.Max(1, total);
        _enabled = !quiet && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
    }

    /// <summary>Adds <paramref name="bytes"/> to the amount done (thread-safe).</summary>
    public void Advance(long bytes)
    {
        long done = Interlocked.Add(ref _done, bytes);
        if (!_enabled) return;
        long now = _clock.ElapsedMilliseconds;
        if (now - Interlocked.Read(ref _lastDraw) < 100 && done < _total) return;
        Interlocked.Exchange(ref _lastDraw, now);
        Draw(done);
    }

    private void Draw(long done)
    {
        double fraction = Math.Min(1.0, (double)done / _total);
        int width = 30;
        int filled = (int)(fraction * width);
        double seconds = Math.Max(0.001, _clock.Elapsed.TotalSeconds);
        string rate = FormatBytes((long)(done / seconds)) + "/s";
        lock (this)
            Console.Error.Write($"\r{_label} [{new string('#', filled)}{new string('.', width - filled)}] {fraction * 100,5:0.0}% {FormatBytes(done)} {rate}   ");
    }

    public void Dispose()
    {
        if (_enabled) Console.Error.WriteLine();
    }

    public static string FormatBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : $"{v:0.0} {units[u]}";
    }
}
