namespace MountChain.Fuse.Hosting;

/// <summary>
/// One transport's kernel mount of a tree: our own /dev/fuse protocol (<c>Kernel/</c>) or
/// libfuse's loop. <see cref="FuseMount"/> picks one and owns the lifecycle around it.
/// </summary>
internal interface IFuseSession
{
    string MountPoint { get; }

    /// <summary>The kernel's FUSE connection number (/sys/fs/fuse/connections/N), when known.</summary>
    int? ConnectionId { get; }

    /// <summary>"kernel" or "libfuse": which transport serves the mount.</summary>
    string TransportName { get; }

    /// <summary>Serves requests on the calling thread (and its workers) until the mount goes away; returns the loop's status.</summary>
    int Run();

    /// <summary>Unmounts so that <see cref="Run"/> returns; any thread, any number of times.</summary>
    void RequestStop();

    /// <summary>Takes down a session that was mounted but never run.</summary>
    void Abandon();
}
