using System.Runtime.InteropServices;

namespace MountChain.FileSystems.Operations;

/// <summary>A second name for an extracted file (link(2)), so hard links stay hard links as tar keeps them.</summary>
internal static partial class HardLink
{
    /// <summary>False when the target cannot link (Windows, a file system without hard links): the caller copies instead.</summary>
    public static bool TryCreate(string existing, string destination)
    {
        if (OperatingSystem.IsWindows()) return false;
        if (File.Exists(destination)) File.Delete(destination);
        return link(existing, destination) == 0;
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int link(string existing, string destination);
}
