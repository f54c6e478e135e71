using MountChain.Core.Errors;
using MountChain.Nbd.Protocol;

namespace MountChain.Fuzz.Harness;

/// <summary>
/// The exception types a parser may raise for hostile bytes (design.md rule 6): the CLI turns them
/// into one line on stderr and exit 1. Anything else is "internal error", i.e. our bug.
/// </summary>
public static class InputErrors
{
    public static bool IsDocumented(Exception e) => e switch
    {
        VmdkException => true,                       // names the file; corrupt, unsupported, mismatch
        NbdProtocolException => true,                // ends one NBD connection
        IOException io => io.Message.Length > 0,     // FileSystemCorruptException, PartitionTableException, LvmException, short reads
        _ => false,
    };
}
