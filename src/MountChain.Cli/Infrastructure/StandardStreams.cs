using System.Runtime.InteropServices;
using System.Text;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// On Linux, Console.Out and Console.Error become plain UTF-8 writers on descriptors 1 and 2.
/// System.Console's own writers set up terminal and signal handling on first use (a thread and a
/// pipe) that a short command pays for at every start, and we never read keys or move a cursor.
/// Writes go through write(2), so a descriptor shared with others (a shell's `> file` for
/// several commands) advances as it would with Console.
/// </summary>
internal static partial class StandardStreams
{
    public static void Adopt()
    {
        if (!OperatingSystem.IsLinux()) return;
        Console.SetOut(Writer(1));
        Console.SetError(Writer(2));
    }

    private static StreamWriter Writer(int fd) => new(new DescriptorStream(fd), new UTF8Encoding(false), 4096) { AutoFlush = true };

    /// <summary>A write-only stream on a descriptor this process does not own.</summary>
    private sealed class DescriptorStream(int fd) : Stream
    {
        private const int EINTR = 4, EAGAIN = 11, EPIPE = 32;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override unsafe void Write(ReadOnlySpan<byte> data)
        {
            fixed (byte* p = data)
            {
                int done = 0;
                while (done < data.Length)
                {
                    nint n = SysWrite(fd, p + done, (nuint)(data.Length - done));
                    if (n >= 0)
                    {
                        done += (int)n;
                        continue;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    if (errno == EPIPE) return; // the reader went away (`| head`): as Console, drop the rest
                    if (errno == EAGAIN)
                    {
                        Thread.Sleep(1); // a non-blocking descriptor another program set: wait for room
                        continue;
                    }
                    throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint SysWrite(int fd, byte* buffer, nuint count);
}
