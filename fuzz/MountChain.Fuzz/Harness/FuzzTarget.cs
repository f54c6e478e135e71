namespace MountChain.Fuzz.Harness;

/// <summary>
/// One parser under fuzzing: <see cref="Body"/> feeds it an input and uses what it returns the way
/// the CLI would. It may throw only documented input errors (<see cref="InputErrors"/>).
/// </summary>
/// <param name="Name">Command-line name (scripts/fuzz.sh TARGET, corpus folder fuzz/corpus/NAME).</param>
/// <param name="Parser">What it reaches, for --list.</param>
/// <param name="Body">Runs one input in a scratch folder of its own.</param>
public sealed record FuzzTarget(string Name, string Parser, Action<byte[], Scratch> Body);

/// <summary>A target broke a rule on one input: the fuzzer's crash, a test's failure.</summary>
public sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);
