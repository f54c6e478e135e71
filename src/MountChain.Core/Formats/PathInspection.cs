using System.Runtime.InteropServices;

namespace MountChain.Core.Formats;

/// <summary>What a path names on disk, and its canonical form (for cycle detection, format doc §10.2 item 6).</summary>
internal static partial class PathInspection
{
    public enum Kind { Missing, RegularFile, Directory, Device, Other }

    public static Kind Inspect(string path)
    {
        // One stat(2) answers everything on Linux (opening a deep chain inspects every link twice).
        if (StatMode(path) is uint known) return KindOf(known);
        if (Directory.Exists(path)) return Kind.Directory;
        if (!File.Exists(path)) return Kind.Missing;
        if (OperatingSystem.IsWindows()) return Kind.RegularFile;
        // FileInfo reports device nodes as "Normal" on Linux, so ask stat(2) for the file type.
        return StatMode(path) is uint mode ? KindOf(mode) : Kind.RegularFile;
    }

    private static Kind KindOf(uint mode) => (mode & 0xF000) switch
    {
        0x8000 => Kind.RegularFile,
        0x4000 => Kind.Directory,
        0x6000 or 0x2000 => Kind.Device,
        _ => Kind.Other,
    };

    /// <summary>st_mode of a path (following symlinks), or null where we do not know the struct layout.</summary>
    private static unsafe uint? StatMode(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,   // st_dev, st_ino, st_nlink (8 bytes each), then st_mode
            Architecture.Arm64 => 16, // st_dev, st_ino, then st_mode
            _ => -1,
        };
        if (modeOffset < 0) return null;
        byte* buffer = stackalloc byte[256];
        if (Stat(path, buffer) != 0) return null;
        return *(uint*)(buffer + modeOffset);
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);

    /// <summary>Absolute path with symlinks resolved (realpath), so two names of one file compare equal.</summary>
    public static string Canonical(string path)
    {
        string full = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows()) return full.ToUpperInvariant();
        IntPtr p = RealPath(full, IntPtr.Zero);
        if (p == IntPtr.Zero) return full;
        try { return Marshal.PtrToStringUTF8(p) ?? full; }
        finally { Free(p); }
    }

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr RealPath(string path, IntPtr resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(IntPtr p);
}
