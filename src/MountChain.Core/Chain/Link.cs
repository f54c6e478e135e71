using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Core.Mapping;

namespace MountChain.Core.Chain;

/// <summary>
/// One link of a chain (base or delta): its descriptor and the extents that make up its address
/// space in descriptor order (format doc §6.1). Opened read-only; immutable; thread-safe.
/// </summary>
public sealed class Link : IMapLayer, IDisposable
{
    private readonly IExtent[] _extents;
    private readonly long[] _extentStarts;

    internal Link(string path, VmdkDescriptor descriptor, IExtent[] extents, IReadOnlyList<string> warnings)
    {
        Path = path;
        Descriptor = descriptor;
        _extents = extents;
        _extentStarts = new long[extents.Length];
        long start = 0;
        for (int i = 0; i < extents.Length; i++)
        {
            _extentStarts[i] = start;
            start += extents[i].Sectors;
        }
        CapacitySectors = start;
        Warnings = warnings;
    }

    /// <summary>The file that was opened (descriptor or monolithic sparse file).</summary>
    public string Path { get; }
    public VmdkDescriptor Descriptor { get; }
    internal IReadOnlyList<IExtent> Extents => _extents;
    public long CapacitySectors { get; }
    public uint Cid => Descriptor.Cid;
    public uint ParentCid => Descriptor.ParentCid;
    public bool HasParent => Descriptor.HasParent;
    public string CreateType => Descriptor.CreateType;

    /// <summary>Things the opener repaired or could not check (shown by `info`).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Grain size in sectors of the first sparse extent, or 0 for a link without grains.</summary>
    public long GrainSectors => _extents.FirstOrDefault(e => e is HostedSparseExtent or Formats.Cowd.CowdExtent or Formats.SeSparse.SeSparseExtent)?.GrainSectors ?? 0;

    /// <summary>Appends pieces covering [start, start+count) of the link's address space, in order.</summary>
    void IMapLayer.Map(long start, long count, List<LinkPiece> output, List<ExtentPiece> scratch) => Map(start, count, output, scratch);

    /// <summary>Appends pieces covering [start, start+count) of the link's address space, in order.</summary>
    internal void Map(long start, long count, List<LinkPiece> output, List<ExtentPiece> scratch)
    {
        long end = start + count;
        int i = ExtentIndex(start);
        long pos = start;
        while (pos < end)
        {
            var extent = _extents[i];
            long extentStart = _extentStarts[i];
            long n = Math.Min(end, extentStart + extent.Sectors) - pos;
            scratch.Clear();
            extent.Map(pos - extentStart, n, scratch);
            foreach (var p in scratch)
                output.Add(new LinkPiece(p.Start + extentStart, p.Count, p.Kind, p.FileOffset, p.GrainStart, extent, extentStart));
            pos += n;
            i++;
        }
    }

    private int ExtentIndex(long sector)
    {
        int i = Array.BinarySearch(_extentStarts, sector);
        if (i < 0) i = ~i - 1;
        // Skip zero-length positions (cannot happen: extent sizes are > 0) and clamp.
        return Math.Clamp(i, 0, _extents.Length - 1);
    }

    public void Dispose()
    {
        foreach (var e in _extents) e.Dispose();
    }
}
