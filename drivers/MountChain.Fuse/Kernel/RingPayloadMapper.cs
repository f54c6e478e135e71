using MountChain.Core.BlockDevices;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Kernel;

/// <summary>
/// The io_uring counterpart of <see cref="GatherReplier"/>: a ring entry's reply must lie in its
/// payload buffer, whose address the kernel fixed at registration, so instead of copying a large
/// READ's data there (page cache → payload, then the kernel's copy payload → caller), the file
/// ranges behind it are mapped over the payload with MAP_FIXED (private, so whatever the kernel
/// or we write there next stays ours) and holes get fresh anonymous zero pages. The kernel then
/// copies each byte once. Only whole, page-aligned ranges qualify (a partial last page is fine);
/// anything else is copied as before. Payload memory must come from <see cref="AllocatePayloads"/>.
/// One per queue (its thread).
/// </summary>
internal sealed unsafe class RingPayloadMapper
{
    private const int PageSize = 4096;
    private const int ProtReadWrite = 3, MapPrivate = 2, MapFixed = 0x10, MapAnonymous = 0x20;
    private readonly List<FileRange> _ranges = [];

    /// <summary>True when the last <see cref="TryMap"/> replaced payload memory (even if it then failed).</summary>
    public bool Touched { get; set; }

    /// <summary>Page-aligned anonymous memory for payload buffers (mapped, so parts can be replaced by file mappings); null on failure.</summary>
    public static byte* AllocatePayloads(nuint bytes)
    {
        nint address = KernelCalls.MemoryMap(0, bytes, ProtReadWrite, MapPrivate | MapAnonymous, -1, 0);
        return address == KernelCalls.MapFailed ? null : (byte*)address;
    }

    public static void FreePayloads(byte* payloads, nuint bytes) => KernelCalls.MemoryUnmap((nint)payloads, bytes);

    /// <summary>
    /// Puts the <paramref name="size"/> bytes at <paramref name="offset"/> of <paramref name="file"/>
    /// at <paramref name="payload"/> by mapping; the reply length, or -1 when they were not mapped
    /// (the payload may then hold anything: the caller fills it by copying).
    /// </summary>
    public int TryMap(IFileRangeOpenFile file, long offset, int size, byte* payload, int capacity)
    {
        Touched = false;
        _ranges.Clear();
        if (!file.TryDescribe(offset, size, _ranges, out int total) || total > capacity) return -1;
        for (int i = 0; i < _ranges.Count; i++)
        {
            var range = _ranges[i];
            // Every range but the last ends on a page boundary, so each starts on one in the payload too.
            if (range.Length % PageSize != 0 && i != _ranges.Count - 1) return -1;
            if (range.Handle is not null && range.FileOffset % PageSize != 0) return -1;
        }
        Touched = true;
        int position = 0;
        foreach (var range in _ranges)
        {
            nuint length = (nuint)((range.Length + PageSize - 1) / PageSize * PageSize);
            nint at = (nint)(payload + position), mapped;
            if (range.Handle is null)
                mapped = KernelCalls.MemoryMap(at, length, ProtReadWrite, MapPrivate | MapFixed | MapAnonymous, -1, 0);
            else
            {
                bool added = false;
                try
                {
                    range.Handle.DangerousAddRef(ref added);
                    mapped = KernelCalls.MemoryMap(at, length, ProtReadWrite, MapPrivate | MapFixed, (int)range.Handle.DangerousGetHandle(), range.FileOffset);
                }
                finally
                {
                    if (added) range.Handle.DangerousRelease();
                }
            }
            // A failed MAP_FIXED leaves the old mapping in place: copying then still works.
            if (mapped != at) return -1;
            position += range.Length;
        }
        return total;
    }

    /// <summary>Gives a payload plain anonymous memory again (before a copied reply, so the copy does not go through copy-on-write of file pages).</summary>
    public static void Reset(byte* payload, int bytes) =>
        KernelCalls.MemoryMap((nint)payload, (nuint)bytes, ProtReadWrite, MapPrivate | MapFixed | MapAnonymous, -1, 0);
}
