using System.CommandLine;
using System.Text.RegularExpressions;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// Turns a failure into the one line a user reads: .NET's own texts ("Could not find a part of the
/// path …", "as expected type 'System.Int32'") become "PATH: problem", and a line that does not
/// name the disk file (and, for a file system problem, the volume) the command line gives is
/// completed with them, so every error says where it is.
/// </summary>
public static partial class ErrorLine
{
    /// <summary>The message of <paramref name="e"/> in our words, completed with what <paramref name="parse"/> names.</summary>
    public static string For(Exception e, ParseResult? parse)
    {
        string message = Translate(e.Message);
        if (e is Core.Errors.ChainMismatchException && message.Contains("parentCID", StringComparison.Ordinal))
            message += " (--ignore-cid reads it anyway, read-only)";
        if (parse is null || e is UsageException) return message;
        bool inFileSystem = FromFileSystems(e);
        if (inFileSystem && VolumeOf(parse) is { } volume && !NamesVolume(message, volume))
            message = $"{volume}: {message}";
        // A line that starts with a host path already names its file (a parent link, an output file).
        if (DiskOf(parse) is { } disk && (inFileSystem || !StartsWithHostPath(message)) && !message.Contains(Path.GetFileName(disk), StringComparison.Ordinal))
            message = $"{disk}: {message}";
        return message;
    }

    private static bool StartsWithHostPath(string message) =>
        message.StartsWith('/') || message.StartsWith(@"\", StringComparison.Ordinal) || (message.Length > 2 && char.IsAsciiLetter(message[0]) && message[1] == ':' && message[2] == '\\');

    /// <summary>A parse error of System.CommandLine in our words.</summary>
    public static string ForParseError(string message)
    {
        var m = ExpectedType().Match(message);
        if (!m.Success) return message;
        string type = m.Groups["type"].Value;
        string wanted = type.Contains("Int32") || type.Contains("Int64") ? "a whole number"
            : type.Contains("Boolean") ? "true or false"
            : type.Contains("Double") ? "a number"
            : "valid here";
        return $"{m.Groups["name"].Value}: '{m.Groups["value"].Value}' is not {wanted}";
    }

    /// <summary>.NET's file-system messages as "PATH: problem".</summary>
    public static string Translate(string message)
    {
        foreach (var (pattern, problem) in Known)
        {
            var m = pattern.Match(message);
            if (m.Success) return $"{m.Groups["path"].Value}: {problem ?? m.Groups["problem"].Value.ToLowerInvariant()}";
        }
        return message;
    }

    private static readonly (Regex Pattern, string? Problem)[] Known =
    [
        (new Regex(@"^Could not find a part of the path '(?<path>.*)'\.$"), "no such directory"),
        (new Regex(@"^Could not find file '(?<path>.*)'\.$"), "no such file"),
        (new Regex(@"^Access to the path '(?<path>.*)' is denied\.$"), "permission denied"),
        (new Regex(@"^The file '(?<path>.*)' already exists\.$"), "already exists"),
        (new Regex(@"^The process cannot access the file '(?<path>.*)' because it is being used by another process\.$"), "in use by another process"),
        // .NET on Unix: "<strerror> : '<path>'".
        (new Regex(@"^(?<problem>[A-Z][^:']*) : '(?<path>.*)'$"), null),
    ];

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (option|argument) '(?<name>.*)' as expected type '(?<type>.*)'\.$")]
    private static partial Regex ExpectedType();

    /// <summary>The full path of the disk argument of the command, if it has one.</summary>
    private static string? DiskOf(ParseResult parse)
    {
        foreach (var argument in parse.CommandResult.Command.Arguments)
            if (argument.Name is "disk" && argument is Argument<FileInfo> file && parse.GetValue(file) is { } info)
                return info.FullName;
        return null;
    }

    /// <summary>The volume (pK, pK/VG-LV) the command names by a volume path or --partition.</summary>
    private static string? VolumeOf(ParseResult parse)
    {
        foreach (var argument in parse.CommandResult.Command.Arguments)
            if (argument.Name is "path" && argument is Argument<string> text && parse.GetValue(text) is { } value)
            {
                int colon = value.IndexOf(':');
                string head = colon < 0 ? value : value[..colon];
                return FileSystems.Operations.VolumePath.IsVolumeName(head) ? FileSystems.Operations.DiskVolumes.Normalize(head) : null;
            }
        foreach (var option in parse.CommandResult.Command.Options)
            if (option.Name is "--partition" && option is Option<string?> named && parse.GetValue(named) is { } name)
                return FileSystems.Operations.VolumePath.IsVolumeName(name) ? FileSystems.Operations.DiskVolumes.Normalize(name) : null;
        return null;
    }

    /// <summary>
    /// A problem inside a file system (its structures, or a path in it), not one of the chain below
    /// (VmdkException) or of a host file (the runtime's own texts, translated above).
    /// </summary>
    private static bool FromFileSystems(Exception e) =>
        e is FileSystems.Common.FileSystemCorruptException
        || (e is IOException and not FileNotFoundException and not DirectoryNotFoundException
            && Translate(e.Message) == e.Message);

    private static bool NamesVolume(string message, string volume) =>
        message.StartsWith(volume + ":", StringComparison.Ordinal) || message.Contains(" " + volume + ":", StringComparison.Ordinal)
        || message.Contains("volume " + volume, StringComparison.Ordinal) || message.Contains(volume + " ", StringComparison.Ordinal);
}
