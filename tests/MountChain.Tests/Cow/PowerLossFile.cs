using Microsoft.Win32.SafeHandles;
using MountChain.Core.Formats;

namespace MountChain.Tests.Cow;

/// <summary>
/// Models a power cut under a writer (a stronger crash than SIGKILL, after which the page cache
/// still reaches the disk). Plugged in as the writer's I/O hook, it keeps the file's content as of
/// the last completed sync and the sectors written since; at the chosen I/O call it "cuts the
/// power" (that call and every later one fail). <see cref="WriteCrashImage"/> then replaces the file
/// with what a disk could hold after the cut: the synced content plus a random subset of the
/// sectors written since (so any write may be missing, torn at sector granularity, or reordered).
/// With <c>concurrent</c> (several writer threads) the hook is serialised and a sync captures the
/// whole file: a write's hook runs before its bytes land, so a write still under way when another
/// thread syncs would otherwise drop out of both the synced content and the dirty set, although a
/// later sync (the one its own flush waits for) covers it.
/// </summary>
internal sealed class PowerLossFile : IDisposable
{
    private readonly string _path;
    private readonly SafeFileHandle _reader;
    private readonly HashSet<long> _dirty = [];
    private readonly long _cutAt;
    private byte[] _synced;
    private long _calls;

    private readonly bool _concurrent;
    private readonly Lock _gate = new();

    public PowerLossFile(string path, long cutAt, bool concurrent = false)
    {
        _concurrent = concurrent;
        _path = path;
        _cutAt = cutAt;
        _synced = File.ReadAllBytes(path);
        _reader = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    private bool _armed;

    public bool PowerCut { get; private set; }

    /// <summary>Starts counting I/O calls towards the cut (after the writer's open).</summary>
    public void Arm() => _armed = true;
    public long Calls => _calls;

    /// <summary>The writer's fault hook.</summary>
    public Exception? Hook(FileOperation io, long offset, int length)
    {
        lock (_gate) return HookLocked(io, offset, length);
    }

    private Exception? HookLocked(FileOperation io, long offset, int length)
    {
        if (PowerCut || (_armed && ++_calls >= _cutAt))
        {
            PowerCut = true;
            return new IOException("simulated power cut");
        }
        switch (io)
        {
            case FileOperation.Write:
                for (long s = offset / 512; s < (offset + length + 511) / 512; s++) _dirty.Add(s);
                break;
            case FileOperation.Sync:
                // Called before the sync runs: every write so far is in the file; once it returns they are durable.
                long fileLength = RandomAccess.GetLength(_reader);
                if (_concurrent)
                {
                    _synced = new byte[fileLength];
                    RandomAccess.Read(_reader, _synced, 0);
                    _dirty.Clear();
                    break;
                }
                if (_synced.Length < fileLength) Array.Resize(ref _synced, (int)fileLength);
                foreach (long s in _dirty)
                    if (s * 512 < fileLength)
                        RandomAccess.Read(_reader, _synced.AsSpan((int)(s * 512), (int)Math.Min(512, fileLength - s * 512)), s * 512);
                _dirty.Clear();
                break;
        }
        return null;
    }

    /// <summary>After the writer is gone: the file becomes the synced content plus a random subset of later sectors.</summary>
    public void WriteCrashImage(Random random)
    {
        byte[] now = File.ReadAllBytes(_path);
        var image = new byte[now.Length];
        _synced.AsSpan(0, Math.Min(_synced.Length, image.Length)).CopyTo(image);
        foreach (long s in _dirty)
            if (s * 512 < now.Length && random.Next(2) == 0)
                now.AsSpan((int)(s * 512), (int)Math.Min(512, now.Length - s * 512)).CopyTo(image.AsSpan((int)(s * 512)));
        File.WriteAllBytes(_path, image);
    }

    public void Dispose() => _reader.Dispose();
}
