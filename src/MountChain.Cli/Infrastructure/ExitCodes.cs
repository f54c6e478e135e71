namespace MountChain.Cli.Infrastructure;

/// <summary>Process exit codes, the same for every command.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>A problem with the input files (corrupt, missing parent, mismatch, I/O error).</summary>
    public const int InputProblem = 1;
    /// <summary>The command line itself is wrong.</summary>
    public const int Usage = 2;
}

/// <summary>A usage error found after parsing (bad combination of options); exits 2.</summary>
public sealed class UsageException(string message) : Exception(message);
