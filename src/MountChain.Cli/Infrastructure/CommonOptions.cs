using System.CommandLine;

namespace MountChain.Cli.Infrastructure;

/// <summary>Options several commands take, each declared once (an option may belong to many commands).</summary>
public static class CommonOptions
{
    /// <summary>Machine-readable output instead of text.</summary>
    public static Option<bool> Json { get; } = new("--json") { Description = "Machine-readable JSON output" };

    /// <summary>Present the generation writable; writes go to a redo log, never to the chain.</summary>
    public static Option<bool> Write { get; } = new("--write")
    {
        Description = "Accept writes: they go to a redo log (--redo FILE, or a new one next to the disk); the disk files are never written",
    };

    /// <summary>The redo log that takes the writes of --write: an existing one is attached after validation, a missing one is created.</summary>
    public static Option<FileInfo?> Redo { get; } = new("--redo")
    {
        Description = "Redo log that receives the writes (with --write): attached if it exists (after checking it belongs to the generation), created if not",
    };

    /// <summary>Adds --write and --redo to <paramref name="command"/>.</summary>
    public static void AddWriteOptions(Command command)
    {
        command.Options.Add(Write);
        command.Options.Add(Redo);
    }

    /// <summary>Usage checks of --write/--redo, then the disk read-only or writable through the redo log.</summary>
    public static OpenedDisk OpenReadOrWrite(ParseResult parse, DiskSource source)
    {
        RefuseRedoWithoutWrite(parse);
        return parse.GetValue(Write) ? source.OpenWritable(parse, parse.GetValue(Redo)) : source.Open(parse);
    }

    public static void RefuseRedoWithoutWrite(ParseResult parse)
    {
        if (parse.GetValue(Redo) is not null && !parse.GetValue(Write)) throw new UsageException("--redo needs --write");
    }
}
