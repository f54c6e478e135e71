using BenchmarkDotNet.Attributes;
using MountChain.Core.Chain;

namespace MountChain.Benchmarks;

/// <summary>Opening a chain (every link's header, descriptor, GD; parent resolution) and reading its first 4 KiB.</summary>
[MemoryDiagnoser]
public class OpenBenchmarks
{
    private readonly byte[] _buffer = new byte[4096];
    private string _path = null!;

    [Params(1, 8, 32, 128)]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Fixture.WarmPageCache(Depth);
        _path = Fixture.ChainTop(Depth);
    }

    [Benchmark(Description = "Chain open")]
    public int Open()
    {
        using var chain = VmdkChain.Open(_path);
        return chain.Links.Count;
    }

    [Benchmark(Description = "Chain open + first 4 KiB read")]
    public void OpenAndFirstRead()
    {
        using var chain = VmdkChain.Open(_path);
        chain.OpenGeneration(chain.TopGeneration).Read(_buffer, 0);
    }
}
