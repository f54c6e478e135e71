namespace MountChain.Core.Errors;

/// <summary>
/// Base of every problem with the input that a user can act on (design.md rule 6). The message is
/// one line and names the file; the CLI prints it and exits 1.
/// </summary>
public abstract class VmdkException(string file, string problem, Exception? inner = null)
    : Exception($"{file}: {problem}", inner)
{
    /// <summary>The file the problem is in.</summary>
    public string FilePath { get; } = file;

    /// <summary>The problem without the file name.</summary>
    public string Problem { get; } = problem;
}

/// <summary>On-disk metadata is inconsistent, out of bounds or malformed.</summary>
public sealed class CorruptMetadataException(string file, string problem, Exception? inner = null)
    : VmdkException(file, problem, inner);

/// <summary>The descriptor text is malformed.</summary>
public sealed class DescriptorException(string file, string problem) : VmdkException(file, problem);

/// <summary>A parent link could not be found from its hint.</summary>
public sealed class MissingParentException(string file, string problem) : VmdkException(file, problem);

/// <summary>A link does not belong on its parent (CID or capacity mismatch, cycle, depth).</summary>
public sealed class ChainMismatchException(string file, string problem) : VmdkException(file, problem);

/// <summary>A valid file uses a feature we do not implement (or refuse to touch).</summary>
public sealed class UnsupportedFeatureException(string file, string problem) : VmdkException(file, problem);

/// <summary>An operation on a redo log or chain was refused (would tear a link, unsafe target).</summary>
public sealed class OperationRefusedException(string file, string problem) : VmdkException(file, problem);
