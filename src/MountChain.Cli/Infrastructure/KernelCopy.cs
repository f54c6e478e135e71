using System.Runtime.InteropServices;
using MountChain.Core.Chain;
using MountChain.Core.Formats;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// `cat` of a read-only generation on Linux, in order, to one file descriptor (stdout, a pipe, a
/// file): each data run of the grain map goes from its extent file to the output inside the kernel
/// (sendfile(2): page-cache pages are handed on, never copied through our buffers); zeros and
/// compressed grains are written from memory. Read cost stays one map lookup per run (design.md
/// rule 2). An output the kernel cannot send to makes it fall back to read + write for the rest.
/// </summary>
internal static partial class KernelCopy
{
    private const int ChunkBytes = 1 << 20;
    private const int EINTR = 4, EAGAIN = 11, EINVAL = 22, ENOSYS = 38, EOPNOTSUPP = 95;

    /// <summary>True where this path applies: Linux and a generation read straight from its links.</summary>
    public static bool Applies(object device) => OperatingSystem.IsLinux() && device is GenerationDevice;

    /// <summary>Writes the whole generation to <paramref name="outFd"/> from its current position.</summary>
    public static void Copy(GenerationDevice device, int outFd)
    {
        var state = new State(outFd);
        device.Map.VisitRuns(0, device.Map.CapacitySectors,
            run => state.Send(device, run.Start << Sector.Shift, run.Count << Sector.Shift, run.Kind, run.Extent, run.FileOffset));
    }

    private sealed class State(int outFd)
    {
        private bool _kernel = true;
        private byte[]? _buffer;
        private static readonly byte[] Zeros = new byte[ChunkBytes];

        public void Send(GenerationDevice device, long offset, long length, PieceKind kind, IExtent? extent, long fileOffset)
        {
            switch (kind)
            {
                case PieceKind.Data when _kernel && extent?.Handle is { } handle:
                    long sent = SendFile(handle, fileOffset, length, extent.FilePath);
                    if (sent < length) ReadAndWrite(device, offset + sent, length - sent);
                    break;
                case PieceKind.Zero or PieceKind.Unallocated:
                    for (long done = 0; done < length; done += ChunkBytes)
                        WriteAll(Zeros.AsSpan(0, (int)Math.Min(ChunkBytes, length - done)));
                    break;
                default:
                    ReadAndWrite(device, offset, length);
                    break;
            }
        }

        /// <summary>sendfile until done; returns less than <paramref name="length"/> only when the kernel refuses this output (then read + write from here on).</summary>
        private long SendFile(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long fileOffset, long length, string? file)
        {
            int inFd = (int)handle.DangerousGetHandle();
            long start = fileOffset, end = fileOffset + length;
            while (fileOffset < end)
            {
                nint n = SysSendFile(outFd, inFd, ref fileOffset, (nuint)Math.Min(end - fileOffset, 1L << 30));
                if (n > 0) continue;
                if (n == 0) throw new IOException($"{file}: ends at byte {fileOffset}, before the data its grain tables name (truncated?)");
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno == EAGAIN)
                {
                    WaitWritable();
                    continue;
                }
                if (errno is EINVAL or ENOSYS or EOPNOTSUPP)
                {
                    _kernel = false;
                    return fileOffset - start;
                }
                throw new IOException($"writing the disk: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            return length;
        }

        private void ReadAndWrite(GenerationDevice device, long offset, long length)
        {
            _buffer ??= new byte[ChunkBytes];
            for (long done = 0; done < length;)
            {
                int n = (int)Math.Min(ChunkBytes, length - done);
                device.Read(_buffer.AsSpan(0, n), offset + done);
                WriteAll(_buffer.AsSpan(0, n));
                done += n;
            }
        }

        private unsafe void WriteAll(ReadOnlySpan<byte> data)
        {
            fixed (byte* p = data)
            {
                int done = 0;
                while (done < data.Length)
                {
                    nint n = Write(outFd, p + done, (nuint)(data.Length - done));
                    if (n >= 0)
                    {
                        done += (int)n;
                        continue;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    if (errno == EAGAIN)
                    {
                        WaitWritable();
                        continue;
                    }
                    throw new IOException($"writing the disk: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }

        /// <summary>A non-blocking output (a pipe another program set so) is full: wait until it takes more.</summary>
        private unsafe void WaitWritable()
        {
            var fd = new PollFd { Fd = outFd, Events = PollOut };
            _ = Poll(&fd, 1, 1000);
        }
    }

    private const short PollOut = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint SysSendFile(int outFd, int inFd, ref long offset, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, byte* buffer, nuint count);
}
