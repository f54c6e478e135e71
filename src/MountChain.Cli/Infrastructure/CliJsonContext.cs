using System.Text.Json.Serialization;
using MountChain.Cli.Commands;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// Source-generated metadata of every --json output type (System.Text.Json source generation:
/// the NativeAOT binary has no reflection-based serializer). Register a new output type here;
/// <see cref="Json"/> binds it to the runtime options (same style as below plus relaxed escaping).
/// Enums are not serialized: outputs carry their names as strings.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InfoCommand.ChainInfo))]
[JsonSerializable(typeof(ErrorOutput))]
[JsonSerializable(typeof(FilesHashResult))]
[JsonSerializable(typeof(ExtractResult))]
[JsonSerializable(typeof(ConvertResult))]
[JsonSerializable(typeof(MountResult))]
[JsonSerializable(typeof(ServeResult))]
[JsonSerializable(typeof(ChainCommands.HashResult))]
[JsonSerializable(typeof(ChainCommands.MapResult))]
[JsonSerializable(typeof(ChainCommands.ChangedAreasResult))]
[JsonSerializable(typeof(ChainCommands.ChangedAcrossResult))]
[JsonSerializable(typeof(InspectCommands.TreeJsonRoot))]
[JsonSerializable(typeof(InspectCommands.CheckResult))]
[JsonSerializable(typeof(VmInfoCommand.VmInfo))]
[JsonSerializable(typeof(BenchCommands.BenchReport))]
[JsonSerializable(typeof(ChildCreated))]
[JsonSerializable(typeof(WriteResult))]
[JsonSerializable(typeof(CommitOutput))]
[JsonSerializable(typeof(UnlinkResult))]
[JsonSerializable(typeof(RepairResult))]
[JsonSerializable(typeof(WriteBenchResult))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
