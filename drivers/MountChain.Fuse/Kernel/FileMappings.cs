using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// Read-only shared mappings of the files behind a mount (one per file, made on first use, kept
/// until the session ends), so a READ reply can point the kernel at page-cache pages instead of
/// copying them into a buffer first (<see cref="GatherReplier"/>). A file that shrinks under the
/// mapping makes the kernel's copy fail (EFAULT, the request ends with EIO), never our process.
/// Thread-safe.
/// </summary>
internal sealed class FileMappings : IDisposable
{
    private readonly record struct Mapping(nint Address, long Length);

    private readonly ConcurrentDictionary<SafeFileHandle, Mapping> _mappings = new(ReferenceEqualityComparer.Instance);
    private readonly object _mapLock = new();
    private bool _disposed;

    /// <summary>The address of bytes [offset, offset+length) of <paramref name="handle"/>'s file, or 0 when they cannot be mapped.</summary>
    public nint AddressOf(SafeFileHandle handle, long offset, int length)
    {
        if (!_mappings.TryGetValue(handle, out var mapping)) mapping = Map(handle);
        return mapping.Address != 0 && offset >= 0 && offset + length <= mapping.Length ? mapping.Address + (nint)offset : 0;
    }

    private Mapping Map(SafeFileHandle handle)
    {
        lock (_mapLock)
        {
            if (_mappings.TryGetValue(handle, out var existing)) return existing;
            var mapping = default(Mapping);
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                long length = RandomAccess.GetLength(handle);
                if (!_disposed && length > 0)
                {
                    nint address = KernelCalls.MemoryMap(0, (nuint)length, KernelCalls.ProtRead, KernelCalls.MapShared, (int)handle.DangerousGetHandle(), 0);
                    if (address != KernelCalls.MapFailed) mapping = new Mapping(address, length);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
            {
                // Not mappable (closed, a pipe, ...): replies for this file are copied.
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
            _mappings[handle] = mapping; // a failure is remembered too: no retry per request
            return mapping;
        }
    }

    /// <summary>Unmaps everything; only after every worker has stopped.</summary>
    public void Dispose()
    {
        lock (_mapLock)
        {
            _disposed = true;
            foreach (var mapping in _mappings.Values)
                if (mapping.Address != 0) KernelCalls.MemoryUnmap(mapping.Address, (nuint)mapping.Length);
            _mappings.Clear();
        }
    }
}
