using Microsoft.Win32.SafeHandles;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Operations;

/// <summary>Counts reported while extracting.</summary>
internal readonly record struct ExtractProgress(long Files, long Bytes);

/// <summary>
/// Copies a file or directory tree out of a file system: regular files (holes stay holes where
/// the target supports sparse files; hard links stay links), directories, symlinks recreated, times and (when the file
/// system has them) owners (when run as root), extended attributes and mode bits applied. NTFS
/// alternate data streams become extended attributes "user.STREAM" of their file
/// (<see cref="StreamAttributes"/>); a stream that cannot be written is reported through <c>warn</c>.
/// Special files are skipped. <paramref name="kernelCopy"/> replaces the kernel's copy (tests of its fallback).
/// Never writes outside <c>target</c>: names are single path components checked for '/', '.', '..'.
/// </summary>
internal sealed class TreeExtractor(IFileSystem fs, Action<ExtractProgress>? progress = null, Action<string>? warn = null, KernelFileCopy? kernelCopy = null)
{
    private long _files, _bytes;
    private readonly List<(string Path, FsEntry Entry)> _directoryTimes = [];
    private readonly HashSet<ulong> _ancestors = [];
    /// <summary>Files with more than one link already extracted, by id (inode, MFT record): later names become hard links.</summary>
    private readonly Dictionary<ulong, string> _linked = [];

    public ExtractProgress Totals => new(_files, _bytes);

    /// <summary>Extracts <paramref name="entry"/> into <paramref name="targetDirectory"/> (created if needed) under its own name.</summary>
    public void Extract(FsEntry entry, string targetDirectory)
    {
        Directory.CreateDirectory(targetDirectory);
        string name = entry.Path == "/" ? "" : SafeName(entry.Name, entry.Path);
        string destination = name.Length == 0 ? targetDirectory : Path.Combine(targetDirectory, name);
        try
        {
            ExtractOne(entry, destination, 0);
        }
        finally
        {
            _kernelCopy.Finish();
        }
        // Directory times last, deepest first, so writing their contents does not change them.
        for (int i = _directoryTimes.Count - 1; i >= 0; i--) ApplyTimes(_directoryTimes[i].Path, _directoryTimes[i].Entry);
        progress?.Invoke(Totals);
    }

    private void ExtractOne(FsEntry entry, string destination, int depth)
    {
        if (depth > 4096) throw new FileSystemCorruptException($"{entry.Path}: directory tree too deep");
        switch (entry.Type)
        {
            case FsEntryType.Directory:
                if (!_ancestors.Add(entry.Id))
                    throw new FileSystemCorruptException($"{entry.Path}: directory contains itself (the tree loops)");
                Directory.CreateDirectory(destination);
                var streams = new List<FsEntry>();
                foreach (var child in fs.List(entry))
                {
                    if (child.StreamName != null) { streams.Add(child); continue; }
                    ExtractOne(child, Path.Combine(destination, SafeName(child.Name, child.Path)), depth + 1);
                }
                // After the files, so each stream lands on its extracted file (its name without ":stream").
                foreach (var stream in streams)
                    WriteStream(stream, Path.Combine(destination, SafeName(stream.Name[..^(stream.StreamName!.Length + 1)], stream.Path)));
                _ancestors.Remove(entry.Id);
                FileOwner.Apply(destination, entry);
                ExtendedAttributeWriter.Apply(fs, destination, entry);
                ApplyMode(destination, entry);
                _directoryTimes.Add((destination, entry));
                break;
            case FsEntryType.Symlink:
                if (File.Exists(destination) || Directory.Exists(destination) || new FileInfo(destination).LinkTarget != null) File.Delete(destination);
                File.CreateSymbolicLink(destination, fs.ReadLink(entry));
                FileOwner.Apply(destination, entry);
                ExtendedAttributeWriter.Apply(fs, destination, entry);
                break;
            case FsEntryType.File when entry.StreamName != null:
                // A stream named on its own (extract p1:/a:b DIR) is extracted as a plain file.
                CopyFile(entry, destination);
                ApplyTimes(destination, entry);
                break;
            case FsEntryType.File:
                if (entry.LinkCount > 1 && entry.StreamName == null)
                {
                    if (_linked.TryGetValue(entry.Id, out var first) && HardLink.TryCreate(first, destination)) return;
                    _linked[entry.Id] = destination;
                }
                CopyFile(entry, destination);
                FileOwner.Apply(destination, entry); // before the mode: chown clears set-user-ID bits
                ExtendedAttributeWriter.Apply(fs, destination, entry); // before the mode: an ACL sets the group bits
                ApplyMode(destination, entry);
                ApplyTimes(destination, entry);
                break;
            default:
                return; // FIFOs, sockets, devices: not recreated.
        }
    }

    private void WriteStream(FsEntry stream, string file)
    {
        if (!File.Exists(file)) return; // its file was not extracted (a special file)
        if (StreamAttributes.Write(fs, stream, file) is { } why)
            warn?.Invoke($"{stream.Path}: stream not extracted as user.{stream.StreamName} of {file}: {why}");
    }

    /// <summary>Two buffers, reused for every file: one is filled from the volume while the other is written out.</summary>
    private readonly byte[][] _buffers = [new byte[CopyChunk], new byte[CopyChunk]];
    private const int CopyChunk = 4 << 20;

    private readonly KernelFileCopy _kernelCopy = kernelCopy ?? new();

    /// <summary>
    /// Copies the allocated ranges: in the kernel where the data can be located in the chain's
    /// files (<see cref="KernelFileCopy"/>), else with reading and writing overlapped: chunk i+1 is
    /// read while chunk i is written, so the copy runs at the speed of the slower side instead of
    /// their sum.
    /// </summary>
    private void CopyFile(FsEntry entry, string destination)
    {
        // A new file, never a truncated one: truncating an existing file would change its other hard
        // links or a symlink's target, and on ext4 truncating to zero makes close() flush the whole
        // file (auto_da_alloc), which costs a large extract most of its time.
        if (File.Exists(destination) || new FileInfo(destination).LinkTarget != null) File.Delete(destination);
        using var handle = File.OpenHandle(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        var ranges = fs.GetAllocatedRanges(entry) ?? [(0, entry.Size)];
        Task? pending = null;
        int current = 0;
        try
        {
            foreach (var (start, length) in ranges)
            {
                long offset = start, end = Math.Min(start + length, entry.Size);
                pending?.GetAwaiter().GetResult();
                pending = null;
                offset = _kernelCopy.Copy(fs, entry, handle, offset, end, Copied);
                while (offset < end)
                {
                    byte[] buffer = _buffers[current];
                    int want = (int)Math.Min(buffer.Length, end - offset);
                    int n = fs.Read(entry, buffer.AsSpan(0, want), offset);
                    if (n <= 0) throw new FileSystemCorruptException($"{entry.Path}: data ends at {offset} before the file size {entry.Size}");
                    pending?.GetAwaiter().GetResult(); // the other buffer is free again
                    pending = null;
                    // Skip all-zero chunks so the target stays sparse.
                    if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0))
                    {
                        long at = offset;
                        if (end - offset <= n && pending == null && offset == start && ranges.Count == 1) RandomAccess.Write(handle, buffer.AsSpan(0, n), at);
                        else pending = Task.Run(() => RandomAccess.Write(handle, buffer.AsSpan(0, n), at));
                    }
                    current ^= 1;
                    offset += n;
                    _bytes += n;
                    ReportMaybe();
                }
            }
        }
        finally
        {
            pending?.GetAwaiter().GetResult();
        }
        RandomAccess.SetLength(handle, entry.Size);
        _files++;
        ReportMaybe();
    }

    private long _lastReport;

    private void Copied(long bytes)
    {
        _bytes += bytes;
        ReportMaybe();
    }

    private void ReportMaybe()
    {
        if (progress == null) return;
        long now = Environment.TickCount64;
        if (now - _lastReport < 250) return;
        _lastReport = now;
        progress(Totals);
    }

    private static void ApplyMode(string path, FsEntry entry)
    {
        if (entry.Mode is not { } mode || OperatingSystem.IsWindows()) return;
        try { File.SetUnixFileMode(path, (UnixFileMode)(mode & 0xFFF)); }
        catch (UnauthorizedAccessException) { }
    }

    private static void ApplyTimes(string path, FsEntry entry)
    {
        if (entry.ModifiedTime is { } m)
        {
            if (entry.Type == FsEntryType.Directory) Directory.SetLastWriteTimeUtc(path, m.UtcDateTime);
            else File.SetLastWriteTimeUtc(path, m.UtcDateTime);
        }
        if (entry.AccessTime is { } a)
        {
            if (entry.Type == FsEntryType.Directory) Directory.SetLastAccessTimeUtc(path, a.UtcDateTime);
            else File.SetLastAccessTimeUtc(path, a.UtcDateTime);
        }
    }

    /// <summary>A name read from disk must be one harmless path component.</summary>
    private static string SafeName(string name, string where)
    {
        if (name.Length == 0 || name == "." || name == ".." || name.Contains('/') || name.Contains('\0'))
            throw new FileSystemCorruptException($"{where}: unsafe file name '{name}'");
        return name;
    }
}
