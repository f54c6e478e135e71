using MountChain.FileSystems.Operations;

namespace MountChain.Cli.Commands;

// The --json results of commands whose text output is a line or two (registered in CliJsonContext).
// Sizes are byte counts named "...Bytes" (a file's own size in a listing is "size", as in ls).

/// <summary>files-hash --json: the manifest of one volume.</summary>
internal sealed record FilesHashResult(string File, int Generation, string Volume, List<ManifestEntry> Files);

/// <summary>extract --json: what was copied where.</summary>
internal sealed record ExtractResult(string File, int Generation, string Source, string Target, long Files, long CopiedBytes);

/// <summary>convert --json: the raw image written.</summary>
internal sealed record ConvertResult(string File, int Generation, string Target, long LengthBytes);

/// <summary>mount --json: the mount, once it serves.</summary>
internal sealed record MountResult(string MountPoint, string File, bool Files, string? RedoLog);

/// <summary>serve --json: the export, once it listens.</summary>
internal sealed record ServeResult(string File, int Generation, string Uri, bool Writable, string? RedoLog);
