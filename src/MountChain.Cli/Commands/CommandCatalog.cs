using System.CommandLine;

namespace MountChain.Cli.Commands;

/// <summary>Every subcommand of mountchain, in the order --help lists them.</summary>
public static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        foreach (var command in ChainCommands.Create()) yield return command;
        foreach (var command in InspectCommands.Create()) yield return command;
        foreach (var command in RedoCommands.Create()) yield return command;
        foreach (var command in FileCommands.Create()) yield return command;
        foreach (var command in MountCommands.Create()) yield return command;
        foreach (var command in ServeCommands.Create()) yield return command;
        foreach (var command in BenchCommands.Create()) yield return command;
        yield return GenerateDocsCommand.Create();
    }
}
