using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using MountChain.Benchmarks;

// dotnet run -c Release --project perf/MountChain.Benchmarks -- --filter '*' [--quick]
//   --quick: BenchmarkDotNet's ShortRun job (3 warmups, 3 iterations, 1 launch): minutes, not tens of minutes.
// The fixture chain is built on first use (perf/mkfixture.sh, ~1.5 min) and reused afterwards.
bool quick = args.Contains("--quick");
var rest = args.Where(a => a != "--quick").ToArray();
IConfig config = DefaultConfig.Instance;
if (quick) config = config.AddJob(Job.ShortRun.WithId("quick"));
// Build the fixture up front so no benchmark process does it inside a measurement.
Console.Error.WriteLine($"fixture: {Path.GetDirectoryName(Fixture.ChainTop(1))}");
BenchmarkSwitcher.FromAssembly(typeof(ReadBenchmarks).Assembly).Run(rest, config);
