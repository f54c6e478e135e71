using MountChain.Core.BlockDevices;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.Flat;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Cow;

/// <summary>
/// A parent link opened for writing during commit only: hosted sparse extents through a
/// <see cref="SparseExtentWriter"/> (same crash-safe protocol as the log), flat extents in place.
/// Anything else (compressed, ZERO, read-only extents, COWD, SESparse) is refused.
/// </summary>
internal sealed class CommitTarget : IDisposable
{
    private sealed record Piece(long Start, long Length, SparseExtentWriter? Sparse, WritableFile? Flat, long FlatBase);

    private readonly List<Piece> _pieces = [];
    private readonly IBlockDevice? _below;

    /// <param name="below">The generation under the link (to fill partial grains), or null for a base.</param>
    public CommitTarget(Link link, IBlockDevice? below)
    {
        _below = below;
        try
        {
            long start = 0;
            for (int i = 0; i < link.Extents.Count; i++)
            {
                var extent = link.Extents[i];
                var line = link.Descriptor.Extents[i];
                long length = extent.Sectors * Sector.Size;
                if (line.Access != ExtentAccess.ReadWrite)
                    throw new OperationRefusedException(link.Path, $"extent {line.FileName ?? "(ZERO)"} is {line.Access}; commit writes only RW extents");
                switch (extent)
                {
                    case HostedSparseExtent { IsCompressed: false } sparse:
                        _pieces.Add(new Piece(start, length, new SparseExtentWriter(sparse.FilePath!, new SparseWriterOptions { MetadataFlushInterval = TimeSpan.Zero }), null, 0));
                        break;
                    case FlatExtent flat:
                        _pieces.Add(new Piece(start, length, null, new WritableFile(flat.FilePath!, create: false), line.Offset * Sector.Size));
                        break;
                    default:
                        throw new OperationRefusedException(link.Path, $"commit needs a hosted sparse or flat parent; extent {line.FileName ?? "(ZERO)"} is {line.Type}{(extent is HostedSparseExtent ? " (compressed)" : "")}");
                }
                start += length;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private BelowReader? BelowFor(long start) => _below is null ? null : (buffer, offset) => _below.Read(buffer, start + offset);

    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        foreach (var p in _pieces)
        {
            if (data.IsEmpty) return;
            if (offset >= p.Start + p.Length || offset < p.Start) continue;
            int n = (int)Math.Min(data.Length, p.Start + p.Length - offset);
            if (p.Sparse is not null) p.Sparse.Write(data[..n], offset - p.Start, BelowFor(p.Start));
            else p.Flat!.Write(data[..n], p.FlatBase + offset - p.Start);
            data = data[n..];
            offset += n;
        }
    }

    public void WriteZeroes(long offset, long length)
    {
        foreach (var p in _pieces)
        {
            if (length == 0) return;
            if (offset >= p.Start + p.Length || offset < p.Start) continue;
            long n = Math.Min(length, p.Start + p.Length - offset);
            if (p.Sparse is not null) p.Sparse.WriteZeroes(offset - p.Start, n, BelowFor(p.Start));
            else
            {
                var zeros = new byte[(int)Math.Min(n, 1 << 20)];
                for (long done = 0; done < n; done += zeros.Length)
                    p.Flat!.Write(zeros.AsSpan(0, (int)Math.Min(zeros.Length, n - done)), p.FlatBase + offset - p.Start + done);
            }
            offset += n;
            length -= n;
        }
    }

    public void Flush()
    {
        foreach (var p in _pieces)
        {
            p.Sparse?.Flush();
            p.Flat?.Sync();
        }
    }

    public void Dispose()
    {
        foreach (var p in _pieces)
        {
            p.Sparse?.Dispose();
            p.Flat?.Dispose();
        }
    }
}
