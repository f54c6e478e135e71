using MountChain.Core.BlockDevices;

namespace MountChain.Mounting.Trees;

/// <summary>
/// An open file whose bytes can be named as file ranges (<see cref="IFileRangeSource"/>), so a
/// FUSE transport can splice page-cache pages to the kernel instead of copying them.
/// </summary>
public interface IFileRangeOpenFile : IOpenFile
{
    /// <summary>
    /// Appends the ranges behind up to <paramref name="length"/> bytes at <paramref name="offset"/>
    /// (cut at the end of the file) and sets <paramref name="total"/> to their length; false when
    /// they cannot be named (the caller reads instead).
    /// </summary>
    bool TryDescribe(long offset, int length, List<FileRange> output, out int total);
}
