using MountChain.Core.BlockDevices;

namespace MountChain.FileSystems.Common;

/// <summary>How readers name the file ranges behind a file's bytes (<see cref="IFileSystem.TryLocate"/>).</summary>
internal static class VolumeRanges
{
    /// <summary>The ranges behind [offset, offset+length) of <paramref name="device"/>; false when it cannot say.</summary>
    public static bool TryDescribe(IBlockDevice device, long offset, long length, List<FileRange> output) =>
        device is IFileRangeSource source && source.TryDescribe(offset, checked((int)length), output);

    /// <summary>Bytes that read as zeros (a hole, an unwritten extent, past the valid length).</summary>
    public static void Zeros(List<FileRange> output, long length) => FileRanges.Append(output, new FileRange(null, 0, checked((int)length)));
}
