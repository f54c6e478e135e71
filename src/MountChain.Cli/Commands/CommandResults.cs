using MountChain.FileSystems.Operations;

namespace MountChain.Cli.Commands;

// The --json results of commands whose text output is a line or two (registered in CliJsonContext).
// One spelling of sizes in every --json output: a byte count is a number named "...Bytes"; the size
// of a thing (disk, extent, area, volume, file) is "sizeBytes"; a position is "offset", in bytes.

/// <summary>files-hash --json: the manifest of one volume.</summary>
internal sealed record FilesHashResult(string File, int Generation, string Volume, List<FileHashEntry> Files);

/// <summary>One regular file of a files-hash manifest.</summary>
internal sealed record FileHashEntry(string Path, long SizeBytes, string Sha256);

/// <summary>extract --json: what was copied where.</summary>
internal sealed record ExtractResult(string File, int Generation, string Source, string Target, long Files, long CopiedBytes);

/// <summary>convert --json: the raw image written.</summary>
internal sealed record ConvertResult(string File, int Generation, string Target, long SizeBytes);

/// <summary>mount --json: the mount, once it serves.</summary>
internal sealed record MountResult(string MountPoint, string File, bool Files, string? RedoLog);

/// <summary>serve --json: the export, once it listens.</summary>
internal sealed record ServeResult(string File, int Generation, string Uri, bool Writable, string? RedoLog);
