using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MountChain.Cli.Infrastructure;
using MountChain.FileSystems.Common;
using MountChain.FileSystems.Operations;
using MountChain.FileSystems.Volumes;

namespace MountChain.Cli.Commands;

/// <summary>File-level commands: volumes, ls, extract, cat-file, files-hash, diff --files.</summary>
public static class FileCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Volumes();
        yield return Ls();
        yield return Extract();
        yield return CatFile();
        yield return FilesHash();
        yield return Diff();
    }

    private static Option<bool> JsonOption() => CommonOptions.Json;

    /// <summary>--strict-checksums: a metadata checksum mismatch fails the command instead of a warning on stderr.</summary>
    private static Option<bool> StrictOption(Command cmd)
    {
        var option = new Option<bool>("--strict-checksums") { Description = "Fail on a metadata checksum mismatch (ext4 metadata_csum) instead of warning on stderr and reading on" };
        cmd.Options.Add(option);
        return option;
    }

    private static FileSystemOptions ReaderOptions(ParseResult parse, Option<bool> strict) => new()
    {
        StrictChecksums = parse.GetValue(strict),
        Warning = text => Console.Error.WriteLine($"mountchain: warning: {text}"),
    };
    private static Argument<string> VolumePathArgument() => new("path") { Description = "pK:/path (or K:/path) inside partition K (see 'volumes'); NTFS/FAT: any case, '\\' accepted; NTFS stream: FILE:STREAM or FILE:STREAM:$DATA (always the stream)" };

    private static VolumePath ParsePath(string text)
    {
        try { return VolumePath.Parse(text); }
        catch (FormatException e) { throw new UsageException(e.Message); }
    }

    private static Command Volumes()
    {
        var cmd = new Command("volumes", "List the partitions (type by name, GPT partition name) and LVM2 logical volumes of a disk and the file system on each. "
            + "Read-only: an ext3/ext4 journal is never replayed; a volume whose journal needs recovery is noted here and read as it is on disk");
        var source = new DiskSource().AddTo(cmd);
        var json = JsonOption();
        cmd.Options.Add(json);
        cmd.SetAction(parse =>
        {
            using var disk = source.Open(parse);
            var warnings = new List<string>();
            var volumes = DiskVolumes.Scan(disk.Device, warnings);
            foreach (var w in warnings) Console.Error.WriteLine($"mountchain: warning: {w}");
            if (parse.GetValue(json))
            {
                Json.WriteStreaming(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("file", disk.SourcePath);
                    w.WriteNumber("generation", disk.Generation);
                    w.WriteStartArray("volumes");
                    foreach (var v in volumes)
                    {
                        w.WriteStartObject();
                        w.WriteString("name", v.Name);
                        w.WriteString("scheme", v.LogicalVolumeName != null ? "lvm2" : v.Partition.Scheme.ToString().ToLowerInvariant());
                        w.WriteNumber("offset", v.Offset);
                        w.WriteNumber("sizeBytes", v.Length);
                        w.WriteString("type", v.Partition.TypeId);
                        if (PartitionTypeNames.Of(v.Partition) is { } typeName && v.LogicalVolumeName == null) w.WriteString("typeName", typeName);
                        w.WriteString("partitionLabel", v.Partition.PartitionLabel);
                        w.WriteString("filesystem", v.FileSystem.Kind);
                        w.WriteString("label", v.FileSystem.Label);
                        if (v.FileSystem.Note.Length > 0) w.WriteString("note", v.FileSystem.Note);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return ExitCodes.Success;
            }
            int width = Math.Max(5, volumes.Count == 0 ? 0 : volumes.Max(v => v.Name.Length));
            string TypeOf(VolumeInfo v) => v.LogicalVolumeName != null ? "LVM2 logical volume" : PartitionTypeNames.Of(v.Partition) ?? v.Partition.TypeId;
            string PartName(VolumeInfo v) => v.LogicalVolumeName != null || v.Partition.PartitionLabel.Length == 0 ? "-" : v.Partition.PartitionLabel;
            int typeWidth = Math.Max(4, volumes.Count == 0 ? 0 : volumes.Max(v => TypeOf(v).Length));
            int nameWidth = Math.Max(8, volumes.Count == 0 ? 0 : volumes.Max(v => PartName(v).Length));
            Console.WriteLine($"{"NAME".PadRight(width)} {"START",14} {"SIZE",14} {"TYPE".PadRight(typeWidth)} {"PARTNAME".PadRight(nameWidth)} {"FS",-12} LABEL");
            foreach (var v in volumes)
            {
                string note = v.FileSystem.Note.Length > 0 ? $" ({v.FileSystem.Note})" : "";
                string fs = v.FileSystem.Kind == "LVM2_member" ? "LVM2 PV" : v.FileSystem.Kind; // its LVs follow as pK/VG-LV
                Console.WriteLine($"{v.Name.PadRight(width)} {v.Offset,14} {v.Length,14} {TypeOf(v).PadRight(typeWidth)} {PartName(v).PadRight(nameWidth)} {fs,-12} {v.FileSystem.Label}{note}");
            }
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Command Ls()
    {
        var cmd = new Command("ls", "List a directory of a partition");
        var source = new DiskSource().AddTo(cmd);
        var path = VolumePathArgument();
        var recursive = new Option<bool>("--recursive", "-r") { Description = "List subdirectories too" };
        var longFormat = new Option<bool>("--long", "-l") { Description = "Type, permissions, links, size, modification time, link target" };
        var xattrs = new Option<bool>("--xattrs", "-x") { Description = "Extended attributes too (ext2/3/4), one 'name=0xHEX' line each, as getfattr -d -e hex" };
        var json = JsonOption();
        cmd.Arguments.Add(path);
        cmd.Options.Add(recursive);
        cmd.Options.Add(longFormat);
        cmd.Options.Add(xattrs);
        cmd.Options.Add(json);
        var strict = StrictOption(cmd);
        cmd.SetAction(parse =>
        {
            var vp = ParsePath(parse.GetValue(path)!);
            using var disk = source.Open(parse);
            using var volume = DiskVolumes.Open(disk.Device, vp.Volume, ReaderOptions(parse, strict));
            var fs = volume.FileSystem;
            var start = TreeWalker.Resolve(fs, vp.Path);
            IEnumerable<FsEntry> entries = start.Type == FsEntryType.Directory ? TreeWalker.Walk(fs, start, parse.GetValue(recursive)) : [start];
            bool isLong = parse.GetValue(longFormat), withXattrs = parse.GetValue(xattrs);
            if (parse.GetValue(json))
            {
                Json.WriteStreaming(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("file", disk.SourcePath);
                    w.WriteNumber("generation", disk.Generation);
                    w.WriteString("volume", volume.Info.Name);
                    w.WriteString("path", start.Path);
                    w.WriteStartArray("entries");
                    foreach (var e in entries) WriteEntry(w, fs, e, withXattrs);
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return ExitCodes.Success;
            }
            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
            foreach (var e in entries)
            {
                string shown = parse.GetValue(recursive) ? e.Path : e.Name;
                if (!isLong) stdout.WriteLine(shown);
                else
                {
                    string target = e.Type == FsEntryType.Symlink ? " -> " + fs.ReadLink(e) : "";
                    stdout.WriteLine($"{ModeString(e)} {e.LinkCount,3} {e.Size,14} {Time(e.ModifiedTime),-30} {shown}{target}");
                }
                if (withXattrs)
                    foreach (var (name, value) in ExtendedAttributes.Of(fs, e))
                        stdout.WriteLine($"    {name}=0x{Convert.ToHexStringLower(value)}");
            }
            stdout.Flush();
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Command Extract()
    {
        var cmd = new Command("extract", "Copy a file or directory tree out of a partition (times, symlinks, holes kept; NTFS alternate data streams as extended attributes user.STREAM, as ntfs-3g shows them)");
        var source = new DiskSource().AddTo(cmd);
        var path = VolumePathArgument();
        var target = new Argument<DirectoryInfo>("target-dir") { Description = "Directory to extract into (created if missing)" };
        var json = JsonOption();
        cmd.Arguments.Add(path);
        cmd.Arguments.Add(target);
        cmd.Options.Add(json);
        var strict = StrictOption(cmd);
        cmd.SetAction(parse =>
        {
            var vp = ParsePath(parse.GetValue(path)!);
            using var disk = source.Open(parse);
            using var volume = DiskVolumes.Open(disk.Device, vp.Volume, ReaderOptions(parse, strict));
            var entry = TreeWalker.Resolve(volume.FileSystem, vp.Path);
            bool tty = !parse.GetValue(json) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
            Action<ExtractProgress>? progress = tty ? p => Console.Error.Write($"\r{p.Files} files, {p.Bytes / (1024.0 * 1024):F1} MiB") : null;
            var extractor = new TreeExtractor(volume.FileSystem, progress, warning => Console.Error.WriteLine($"mountchain: warning: {warning}"));
            string into = parse.GetValue(target)!.FullName;
            extractor.Extract(entry, into);
            if (tty) Console.Error.WriteLine();
            if (parse.GetValue(json))
                Json.Write(new ExtractResult(disk.SourcePath, disk.Generation, vp.ToString(), into, extractor.Totals.Files, extractor.Totals.Bytes), Json.Types.ExtractResult);
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Command CatFile()
    {
        var cmd = new Command("cat-file", "Write a file's content (or an alternate data stream, pK:/file:stream) to stdout");
        var source = new DiskSource().AddTo(cmd);
        var path = VolumePathArgument();
        cmd.Arguments.Add(path);
        var strict = StrictOption(cmd);
        cmd.SetAction(parse =>
        {
            var vp = ParsePath(parse.GetValue(path)!);
            using var disk = source.Open(parse);
            using var volume = DiskVolumes.Open(disk.Device, vp.Volume, ReaderOptions(parse, strict));
            var entry = TreeWalker.Resolve(volume.FileSystem, vp.Path);
            if (entry.Type == FsEntryType.Symlink) entry = TreeWalker.Resolve(volume.FileSystem, vp.Path + "/.");
            if (entry.Type != FsEntryType.File) throw new IOException($"{vp}: not a regular file");
            using var stdout = Console.OpenStandardOutput();
            FileContent.Stream(volume.FileSystem, entry, chunk => stdout.Write(chunk));
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Command FilesHash()
    {
        var cmd = new Command("files-hash", "SHA-256 of every regular file of a partition, like 'find . -type f | LC_ALL=C sort | xargs sha256sum'");
        var source = new DiskSource().AddTo(cmd);
        var partition = new Option<string?>("--partition", "-p") { Description = "Volume: partition K (or pK), or an LVM logical volume K/VG-LV (default: the only readable one)" };
        var json = JsonOption();
        cmd.Options.Add(partition);
        cmd.Options.Add(json);
        var strict = StrictOption(cmd);
        cmd.SetAction(parse =>
        {
            using var disk = source.Open(parse);
            string k = parse.GetValue(partition) is { } named ? CheckVolumeName(named) : OnlyReadablePartition(disk);
            using var volume = DiskVolumes.Open(disk.Device, k, ReaderOptions(parse, strict));
            var manifest = FileManifest.Build(volume.FileSystem, volume.FileSystem.Root);
            if (parse.GetValue(json))
            {
                Json.Write(new FilesHashResult(disk.SourcePath, disk.Generation, volume.Info.Name,
                    manifest.Select(e => new FileHashEntry(e.Path, e.Size, e.Sha256)).ToList()), Json.Types.FilesHashResult);
                return ExitCodes.Success;
            }
            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            foreach (var e in manifest)
                stdout.Write(FileManifest.Format(e) + "\n");
            stdout.Flush();
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static string OnlyReadablePartition(OpenedDisk disk)
    {
        var readable = DiskVolumes.Scan(disk.Device).Where(v => FileSystemRegistry.Find(v.FileSystem.Kind) != null).ToList();
        if (readable.Count != 1)
            throw new UsageException($"{disk.SourcePath}: {readable.Count} readable volumes ({string.Join(", ", readable.Select(v => v.Name))}); choose one with --partition K or K/VG-LV");
        return readable[0].Name;
    }

    private static string CheckVolumeName(string name) =>
        VolumePath.IsVolumeName(name) ? DiskVolumes.Normalize(name) : throw new UsageException($"--partition '{name}': expected K, pK or K/VG-LV (see 'volumes')");

    private static Command Diff()
    {
        var cmd = new Command("diff", "Changed block ranges between two generations; with --files, the files added, removed or modified per partition");
        var source = new DiskSource().AddTo(cmd, withGeneration: false);
        var from = new Option<int>("--from") { Description = "Older generation", Required = true };
        var to = new Option<int>("--to") { Description = "Newer generation", Required = true };
        var files = new Option<bool>("--files") { Description = "Compare file trees (hash and size of every regular file)" };
        var json = JsonOption();
        cmd.Options.Add(from);
        cmd.Options.Add(to);
        cmd.Options.Add(files);
        cmd.Options.Add(json);
        var strict = StrictOption(cmd);
        cmd.SetAction(parse =>
        {
            string path = parse.GetValue(source.Path)!.FullName;
            var options = source.ChainOptions(parse);
            // Without --files: the changed block ranges, from the grain tables (as 'changed').
            if (!parse.GetValue(files))
                return ChainCommands.WriteChangedAreas(path, options, parse.GetValue(from), parse.GetValue(to), parse.GetValue(json));
            using var before = OpenedDisk.Open(path, parse.GetValue(from), options);
            using var after = OpenedDisk.Open(path, parse.GetValue(to), options);
            var result = DiskFileDiff.Compare(before.Device, after.Device, ReaderOptions(parse, strict));
            foreach (var p in result.Where(p => p.Skipped != null))
                Console.Error.WriteLine($"mountchain: {p.Partition}: not compared: {p.Skipped}");
            if (parse.GetValue(json))
            {
                Json.WriteStreaming(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("file", path);
                    w.WriteNumber("from", before.Generation);
                    w.WriteNumber("to", after.Generation);
                    w.WriteStartArray("volumes");
                    foreach (var p in result)
                    {
                        w.WriteStartObject();
                        w.WriteString("partition", p.Partition);
                        w.WriteString("filesystem", p.FileSystem);
                        if (p.Skipped != null) w.WriteString("skipped", p.Skipped);
                        w.WriteStartArray("changes");
                        foreach (var c in p.Changes)
                        {
                            w.WriteStartObject();
                            w.WriteString("change", c.Kind.ToString().ToLowerInvariant());
                            w.WriteString("path", c.Path);
                            if (c.Before != null) { w.WriteNumber("sizeBytesBefore", c.Before.Size); w.WriteString("sha256Before", c.Before.Sha256); }
                            if (c.After != null) { w.WriteNumber("sizeBytesAfter", c.After.Size); w.WriteString("sha256After", c.After.Sha256); }
                            w.WriteEndObject();
                        }
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return ExitCodes.Success;
            }
            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            foreach (var p in result)
                foreach (var c in p.Changes)
                    stdout.Write($"{c.Kind switch { FileChangeKind.Added => 'A', FileChangeKind.Removed => 'D', _ => 'M' }} {p.Partition}:{c.Path[1..]}\n");
            stdout.Flush();
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static string ModeString(FsEntry e)
    {
        char type = e.Type switch
        {
            FsEntryType.Directory => 'd', FsEntryType.Symlink => 'l', FsEntryType.File => '-',
            // Special files by their POSIX type bits: FIFO, character and block devices, sockets.
            _ => (e.Mode & 0xF000) switch { 0x1000 => 'p', 0x2000 => 'c', 0x6000 => 'b', 0xC000 => 's', _ => '?' },
        };
        // NTFS has no POSIX modes; ntfs-3g without a user mapping shows 0777.
        uint mode = e.Mode ?? 0x1FF;
        var sb = new StringBuilder().Append(type);
        const string rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) sb.Append((mode & (1u << (8 - i))) != 0 ? rwx[i] : '-');
        return sb.ToString();
    }

    private static string Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture) ?? "-";

    private static void WriteEntry(Utf8JsonWriter w, IFileSystem fs, FsEntry e, bool withXattrs)
    {
        w.WriteStartObject();
        w.WriteString("name", e.Name);
        w.WriteString("path", e.Path);
        w.WriteString("type", e.Type.ToString().ToLowerInvariant());
        w.WriteNumber("sizeBytes", e.Size);
        w.WriteNumber("id", e.Id);
        w.WriteNumber("links", e.LinkCount);
        if (e.ModifiedTime is { } m) { w.WriteString("mtime", Time(m)); w.WriteNumber("mtimeNs", UnixNs(m)); }
        if (e.AccessTime is { } a) { w.WriteString("atime", Time(a)); w.WriteNumber("atimeNs", UnixNs(a)); }
        if (e.ChangeTime is { } c) w.WriteString("ctime", Time(c));
        if (e.CreationTime is { } b) w.WriteString("crtime", Time(b));
        if (e.Mode is { } mode) w.WriteNumber("mode", mode);
        if (e.Uid is { } uid) w.WriteNumber("uid", uid);
        if (e.Gid is { } gid) w.WriteNumber("gid", gid);
        if (e.Attributes is { } attrs) w.WriteNumber("attributes", attrs);
        if (e.StreamName != null) w.WriteString("stream", e.StreamName);
        if (e.Type == FsEntryType.Symlink) w.WriteString("target", fs.ReadLink(e));
        if (withXattrs)
        {
            w.WriteStartObject("xattrs");
            foreach (var (name, value) in ExtendedAttributes.Of(fs, e)) w.WriteString(name, "0x" + Convert.ToHexStringLower(value));
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>Nanoseconds since the Unix epoch (what `stat -c %.9Y` prints, without the dot).</summary>
    private static long UnixNs(DateTimeOffset t) => (t.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;
}
