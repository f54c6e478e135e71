using Microsoft.Win32.SafeHandles;

namespace MountChain.Core.BlockDevices;

/// <summary>Bytes of the virtual disk that lie in a file as they are (<see cref="Handle"/> set), or read as zeros (null).</summary>
public readonly record struct FileRange(SafeFileHandle? Handle, long FileOffset, int Length);

/// <summary>
/// A device that can say which file bytes back a range, so a front-end can hand the kernel the
/// page-cache pages themselves instead of copying them through a buffer of its own (the FUSE
/// transport splices them). Describes exactly the bytes <see cref="IBlockDevice.Read"/> returns.
/// </summary>
public interface IFileRangeSource
{
    /// <summary>
    /// Appends ranges that exactly cover [offset, offset+length) (inside the disk), adjacent ones
    /// merged; false when part of it is not plain file bytes or zeros (compressed grains): read it instead.
    /// </summary>
    bool TryDescribe(long offset, int length, List<FileRange> output);
}

/// <summary>Appends <see cref="FileRange"/>s, merging one that continues the last.</summary>
public static class FileRanges
{
    public static void Append(List<FileRange> output, FileRange range)
    {
        if (range.Length == 0) return;
        if (output.Count > 0)
        {
            var last = output[^1];
            bool continues = last.Handle is null
                ? range.Handle is null
                : ReferenceEquals(last.Handle, range.Handle) && last.FileOffset + last.Length == range.FileOffset;
            if (continues)
            {
                output[^1] = last with { Length = last.Length + range.Length };
                return;
            }
        }
        output.Add(range);
    }
}
