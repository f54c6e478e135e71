using System.CommandLine;

namespace MountChain.Cli.Commands;

/// <summary>Every subcommand of mountchain, in the order --help lists them.</summary>
public static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        foreach (var c in ChainCommands.Create()) yield return c;
        foreach (var c in BenchCommands.Create()) yield return c;
    }
}
