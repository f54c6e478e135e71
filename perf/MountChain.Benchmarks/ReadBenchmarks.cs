using BenchmarkDotNet.Attributes;
using MountChain.Core.Chain;
using MountChain.Core.Mapping;

namespace MountChain.Benchmarks;

/// <summary>
/// Hot paths of a generation at chain depths 1/8/32/128: grain-map lookup on a warm map, 4 KiB
/// random reads, 1 MiB sequential reads, and the cold build of every region.
/// </summary>
[MemoryDiagnoser]
public class ReadBenchmarks
{
    private const int Batch = 1024;
    private VmdkChain _chain = null!;
    private GenerationDevice _device = null!;
    private long[] _sectors = null!;
    private long[] _offsets = null!;
    private readonly byte[] _small = GC.AllocateUninitializedArray<byte>(4096, pinned: true);
    private readonly byte[] _large = GC.AllocateUninitializedArray<byte>(1 << 20, pinned: true);
    private long _sequential;

    [Params(1, 8, 32, 128)]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Fixture.WarmPageCache(Depth);
        _chain = VmdkChain.Open(Fixture.ChainTop(Depth));
        _device = _chain.OpenGeneration(_chain.TopGeneration);
        var random = new Random(42);
        long slots = _device.Length / 4096;
        _offsets = new long[Batch];
        _sectors = new long[Batch];
        for (int i = 0; i < Batch; i++)
        {
            _offsets[i] = random.NextInt64(slots) * 4096;
            _sectors[i] = _offsets[i] >> 9;
        }
        // Warm: every region built once.
        for (long s = 0; s < _device.Map.CapacitySectors; s += _device.Map.RegionSectors) _device.Map.RegionAt(s);
    }

    [GlobalCleanup]
    public void Cleanup() => _chain.Dispose();

    [Benchmark(OperationsPerInvoke = Batch, Description = "GrainMap lookup (RegionAt + Find, warm)")]
    public int Lookup()
    {
        int sum = 0;
        var map = _device.Map;
        foreach (long s in _sectors) sum += map.RegionAt(s).Find(s);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "4 KiB random read")]
    public void RandomRead4K()
    {
        foreach (long o in _offsets) _device.Read(_small, o);
    }

    [Benchmark(OperationsPerInvoke = 64, Description = "1 MiB sequential read")]
    public void SequentialRead1M()
    {
        for (int i = 0; i < 64; i++)
        {
            _device.Read(_large, _sequential);
            _sequential = (_sequential + _large.Length) % _device.Length;
        }
    }

    [Benchmark(Description = "Region build, cold (all regions of a fresh map)")]
    public long RegionBuildCold()
    {
        var map = new GrainMap(_device.Map.Links.ToArray(), GrainMapOptions.Default);
        long runs = 0;
        for (long s = 0; s < map.CapacitySectors; s += map.RegionSectors) runs += map.RegionAt(s).Runs.Length;
        return runs;
    }
}
