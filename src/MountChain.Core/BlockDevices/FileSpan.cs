using Microsoft.Win32.SafeHandles;

namespace MountChain.Core.BlockDevices;

/// <summary>
/// A piece of a device range located in an OS file, for zero-copy paths (copy_file_range): the
/// next <paramref name="Length"/> bytes are the bytes at <paramref name="FileOffset"/> of
/// <paramref name="Handle"/>, or zeros when <paramref name="Handle"/> is null.
/// </summary>
/// <param name="FilePath">The file (for messages), or null for zeros.</param>
public readonly record struct FileSpan(long Length, SafeFileHandle? Handle, long FileOffset, string? FilePath)
{
    public static FileSpan Zeros(long length) => new(length, null, 0, null);
}

/// <summary>Appends file spans, joining a new one to the last when both are zeros or continue the same file.</summary>
public static class FileSpans
{
    public static void Append(List<FileSpan> output, FileSpan span)
    {
        if (span.Length <= 0) return;
        if (output.Count > 0)
        {
            var last = output[^1];
            bool joins = last.Handle == null
                ? span.Handle == null
                : ReferenceEquals(last.Handle, span.Handle) && last.FileOffset + last.Length == span.FileOffset;
            if (joins)
            {
                output[^1] = last with { Length = last.Length + span.Length };
                return;
            }
        }
        output.Add(span);
    }
}
