using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// The one JSON writer of every --json output: camelCase, indented, nulls omitted, relaxed escaping.
/// Serialization goes through the source-generated <see cref="CliJsonContext"/> (no reflection, so
/// the NativeAOT binary can write JSON): a new output type is registered there with one
/// [JsonSerializable] line and passed as <c>Json.Write(value, Json.Types.MyRecord)</c>.
/// </summary>
public static class Json
{
    /// <summary>The runtime options; they mirror the context's [JsonSourceGenerationOptions] and add the encoder.</summary>
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Type metadata of every output type, bound to the options above.</summary>
    internal static CliJsonContext Types { get; } = new(Options);

    internal static void Write<T>(T value, JsonTypeInfo<T> type) => Console.Out.WriteLine(JsonSerializer.Serialize(value, type));

    /// <summary>An error of a --json run, on stderr: {"error": "…", "exitCode": N}.</summary>
    internal static void WriteError(string message, int exitCode) =>
        Console.Error.WriteLine(JsonSerializer.Serialize(new ErrorOutput(message, exitCode), Types.ErrorOutput));

    /// <summary>Streams a large output (ls -r of a whole volume) straight to stdout in the same style.</summary>
    public static void WriteStreaming(Action<Utf8JsonWriter> write)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = Options.Encoder }))
            write(w);
        stdout.Write("\n"u8);
    }
}

/// <summary>What a command run with --json prints on stderr when it fails.</summary>
internal sealed record ErrorOutput(string Error, int ExitCode);
