namespace MountChain.Mounting.Lifecycle;

/// <summary>Recognises a mount whose server is gone: the kernel fails every access to it.</summary>
public static class StaleMount
{
    // Linux errno values (asm-generic/errno.h): the kernel answers ENOTCONN once it noticed the dead
    // server, ECONNABORTED while it is still tearing the connection down (or after an abort), and
    // ECANCELED for a request that was queued on a FUSE-over-io_uring ring when the server died.
    private const int ECANCELED = 125;
    private const int ECONNABORTED = 103;
    private const int ENOTCONN = 107;

    public static bool IsDisconnected(string mountPoint)
    {
        try
        {
            _ = Directory.Exists(mountPoint) && Directory.EnumerateFileSystemEntries(mountPoint).Any();
            return false;
        }
        catch (IOException e)
        {
            // On Unix .NET reports a failed system call as an IOException whose HResult is the errno.
            return e.HResult is ENOTCONN or ECONNABORTED or ECANCELED;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
