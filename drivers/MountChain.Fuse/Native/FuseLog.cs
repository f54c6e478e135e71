using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace MountChain.Fuse.Native;

/// <summary>
/// Receives libfuse's diagnostics (fuse_set_log_func) instead of letting it print to stderr, so a
/// failed mount can be reported as one line ("fuse: mountpoint is not empty") and a detached
/// server writes nothing to a closed terminal.
/// </summary>
internal static unsafe class FuseLog
{
    private const int MessageLimit = 1024;
    private static readonly object Gate = new();
    private static int _installed;
    private static string? _last;

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 0)
            LibFuse.SetLogFunction(&OnMessage);
    }

    /// <summary>The last message libfuse logged since the previous call, or null.</summary>
    public static string? TakeLast()
    {
        lock (Gate)
        {
            var s = _last;
            _last = null;
            return s;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMessage(int level, byte* format, nint args)
    {
        try
        {
            byte* buffer = stackalloc byte[MessageLimit];
            int n = LibC.VsnPrintf(buffer, MessageLimit, format, args);
            if (n < 0) return;
            var text = Encoding.UTF8.GetString(buffer, Math.Min(n, MessageLimit - 1)).Trim();
            if (text.Length == 0) return;
            lock (Gate) _last = text;
        }
        catch
        {
            // Never let an exception cross back into libfuse.
        }
    }
}
