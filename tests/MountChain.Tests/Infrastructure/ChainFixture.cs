using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;

namespace MountChain.Tests.Infrastructure;

/// <summary>
/// Builds real VMDK chains with qemu-img / qemu-io from a <see cref="ChainSpec"/> in a private
/// directory: base.vmdk (generation 0) and c1.vmdk … cN.vmdk, each child's parent hint relative.
/// The expected bytes of every generation come from `qemu-img convert -O raw` (made on first use
/// and kept while the chain lives).
/// </summary>
public static class ChainBuilder
{
    public static BuiltChain Build(ChainSpec spec)
    {
        var clock = Stopwatch.StartNew();
        var temp = new TempDirectory("chain");
        try
        {
            string dir = temp.Path;
            var writes = new List<WriteOp>();
            var files = new List<string>();
            int writeCounter = 0;

            // ---- generation 0
            string baseName = "base.vmdk";
            bool stream = spec.Base == BaseFormat.StreamOptimized;
            string fillTarget = stream ? "basefill.vmdk" : baseName;
            string createSub = spec.Base switch
            {
                BaseFormat.TwoGbMaxExtentSparse => "twoGbMaxExtentSparse",
                BaseFormat.MonolithicFlat => "monolithicFlat",
                _ => "monolithicSparse",
            };
            Qemu.Img(dir, "create", "-q", "-f", "vmdk", "-o", CreateOptions(createSub, spec), fillTarget, spec.Size.ToString());
            var baseOps = BaseFill(spec).Concat(spec.ExtraWrites.Where(w => w.Generation == 0)).ToList();
            RunWrites(dir, fillTarget, spec, 0, baseOps, ref writeCounter);
            writes.AddRange(baseOps);
            if (stream)
            {
                Qemu.Img(dir, "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", fillTarget, baseName);
                File.Delete(Path.Combine(dir, fillTarget));
            }
            files.Add(Path.Combine(dir, baseName));

            // ---- children
            string childSub = spec.Base == BaseFormat.TwoGbMaxExtentSparse ? "twoGbMaxExtentSparse" : "monolithicSparse";
            string parent = baseName;
            for (int g = 1; g <= spec.Depth; g++)
            {
                string name = $"c{g}.vmdk";
                var create = new List<string> { "create", "-q", "-f", "vmdk", "-o", CreateOptions(childSub, spec), "-b", parent, "-F", "vmdk" };
                if (spec.IsolatedChildren) create.Add("-u");
                create.Add(name);
                if (spec.IsolatedChildren) create.Add(spec.Size.ToString());
                Qemu.Img(dir, create.ToArray());
                var ops = ChildWrites(spec, g).Concat(spec.ExtraWrites.Where(w => w.Generation == g)).ToList();
                RunWrites(dir, spec.IsolatedChildren ? Qemu.WithoutBacking(Path.Combine(dir, name)) : name, spec, g, ops, ref writeCounter);
                writes.AddRange(ops);
                files.Add(Path.Combine(dir, name));
                parent = name;
            }
            Directory.Delete(Path.Combine(dir, "data"), recursive: true);
            return new BuiltChain(spec, temp, files, writes, clock.Elapsed);
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    private static string CreateOptions(string subformat, ChainSpec spec) =>
        $"subformat={subformat}" + (spec.ZeroedGrain && subformat != "monolithicFlat" ? ",zeroed_grain=on" : "");

    /// <summary>Per-generation PRNG, independent of other generations (so depth d is a prefix of depth D).</summary>
    public static Random Rng(int seed, int generation) => new(unchecked(seed * 1_000_003 + generation * 7919 + 12345));

    /// <summary>BaseFillPercent of the whole fill units, chosen without repetition.</summary>
    private static IEnumerable<WriteOp> BaseFill(ChainSpec spec)
    {
        long units = spec.Size / spec.FillUnit;
        long k = (units * spec.BaseFillPercent + 50) / 100;
        var rng = Rng(spec.Seed, 0);
        var chosen = new Dictionary<long, long>();
        var picked = new List<long>();
        for (long i = 0; i < k; i++)
        {
            long j = i + rng.NextInt64(units - i);
            long vi = chosen.GetValueOrDefault(i, i), vj = chosen.GetValueOrDefault(j, j);
            chosen[j] = vi;
            picked.Add(vj);
        }
        picked.Sort();
        return picked.Select(u => new WriteOp(0, u * spec.FillUnit, spec.FillUnit));
    }

    private static IEnumerable<WriteOp> ChildWrites(ChainSpec spec, int g)
    {
        var rng = Rng(spec.Seed, g);
        foreach (var (count, bytes) in ChainSpec.ParseWrites(spec.ChildWrites))
        {
            long slots = (spec.Size - bytes) / spec.Alignment + 1;
            for (int i = 0; i < count; i++)
                yield return new WriteOp(g, rng.NextInt64(slots) * spec.Alignment, bytes);
        }
    }

    /// <summary>One qemu-io run per generation; random data goes through files of seeded bytes (-s).</summary>
    private static void RunWrites(string dir, string image, ChainSpec spec, int g, List<WriteOp> ops, ref int counter)
    {
        var commands = new List<string>();
        string dataDir = Path.Combine(dir, "data");
        Directory.CreateDirectory(dataDir);
        var rng = new Random(unchecked(spec.Seed * 31 + g * 131 + 7));
        foreach (var w in ops)
        {
            counter++;
            if (w.Zero)
                commands.Add($"write -q -z {w.Offset} {w.Length}");
            else if (spec.Data == DataKind.Random)
            {
                string file = Path.Combine(dataDir, $"w{counter}.bin");
                var bytes = new byte[w.Length];
                rng.NextBytes(bytes);
                File.WriteAllBytes(file, bytes);
                commands.Add($"write -q -s {file} {w.Offset} {w.Length}");
            }
            else
            {
                // Base: a pattern per 64 KiB unit; children: a pattern per write, so misplaced bytes show.
                int pattern = g == 0 ? (int)(w.Offset / 65536 % 251) + 1 : (g * 37 + counter) % 255 + 1;
                commands.Add($"write -q -P {pattern} {w.Offset} {w.Length}");
            }
        }
        Qemu.Io(dir, image, commands);
    }
}

/// <summary>A chain on disk plus qemu's view of each generation; deletes everything on dispose.</summary>
public sealed class BuiltChain : IDisposable
{
    private readonly TempDirectory _temp;
    private readonly ConcurrentDictionary<string, Lazy<string>> _raws = new();
    private readonly ConcurrentDictionary<string, Lazy<string>> _hashes = new();

    internal BuiltChain(ChainSpec spec, TempDirectory temp, List<string> files, List<WriteOp> writes, TimeSpan buildTime)
    {
        Spec = spec;
        _temp = temp;
        Files = files;
        Writes = writes;
        BuildTime = buildTime;
        System.IO.Directory.CreateDirectory(RawDirectory);
    }

    public ChainSpec Spec { get; }
    public string Directory => _temp.Path;
    /// <summary>Generation → the file that opens it (base.vmdk, c1.vmdk, …).</summary>
    public IReadOnlyList<string> Files { get; }
    public string Top => Files[^1];
    public int TopGeneration => Files.Count - 1;
    public IReadOnlyList<WriteOp> Writes { get; }
    public TimeSpan BuildTime { get; }
    private string RawDirectory => Path.Combine(_temp.Path, "qemu-raw");

    /// <summary>`qemu-img convert -O raw` of generation <paramref name="g"/> (the whole chain below it).</summary>
    public string RawPath(int g) => Raw($"g{g}", Files[g]);

    /// <summary>qemu's raw image of link <paramref name="g"/> alone (backing=null): the --single-link oracle.</summary>
    public string SingleLinkRawPath(int g) => Raw($"single{g}", Qemu.WithoutBacking(Files[g]));

    private string Raw(string key, string source) => _raws.GetOrAdd(key, k => new Lazy<string>(() =>
    {
        string raw = Path.Combine(RawDirectory, k + ".raw");
        Qemu.ConvertToRaw(source, raw);
        return raw;
    })).Value;

    /// <summary>sha256 (lowercase hex) of qemu's raw image of generation <paramref name="g"/>.</summary>
    public string ExpectedSha256(int g) => _hashes.GetOrAdd($"g{g}", _ => new Lazy<string>(() => Hashing.Sha256File(RawPath(g)))).Value;

    public string ExpectedSingleLinkSha256(int g) => _hashes.GetOrAdd($"single{g}", _ => new Lazy<string>(() => Hashing.Sha256File(SingleLinkRawPath(g)))).Value;

    /// <summary>Length of qemu's raw image of generation <paramref name="g"/> (the virtual size).</summary>
    public long RawLength(int g) => new FileInfo(RawPath(g)).Length;

    /// <summary>Bytes [offset, offset+length) of qemu's raw image of generation <paramref name="g"/>.</summary>
    public byte[] ReadRaw(int g, long offset, int length)
    {
        var buffer = new byte[length];
        using var handle = File.OpenHandle(RawPath(g));
        int done = 0;
        while (done < length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(done), offset + done);
            if (n <= 0) break;
            done += n;
        }
        return buffer;
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>
/// Per-test-class cache of built chains (use with IClassFixture): a spec is built once, on first
/// use, and deleted with the class.
/// </summary>
public sealed class ChainCache : IDisposable
{
    private readonly ConcurrentDictionary<ChainSpec, Lazy<BuiltChain>> _chains = new();

    public BuiltChain Get(ChainSpec spec) =>
        _chains.GetOrAdd(spec, s => new Lazy<BuiltChain>(() => ChainBuilder.Build(s))).Value;

    public void Dispose()
    {
        foreach (var lazy in _chains.Values)
            if (lazy.IsValueCreated) lazy.Value.Dispose();
    }
}

/// <summary>sha256 helpers over files and block devices.</summary>
public static class Hashing
{
    public static string Sha256File(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Sha256(MountChain.Core.BlockDevices.IBlockDevice device)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[4 << 20];
        for (long pos = 0; pos < device.Length;)
        {
            int n = (int)Math.Min(buffer.Length, device.Length - pos);
            device.Read(buffer.AsSpan(0, n), pos);
            sha.AppendData(buffer, 0, n);
            pos += n;
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Compares a device with a raw file block by block (cheaper than two sha256 passes for big
    /// disks); returns the offset of the first differing 4 MiB block, or -1.
    /// </summary>
    public static long FirstDifference(MountChain.Core.BlockDevices.IBlockDevice device, string rawPath)
    {
        using var handle = File.OpenHandle(rawPath);
        if (RandomAccess.GetLength(handle) != device.Length) return 0;
        var ours = new byte[4 << 20];
        var theirs = new byte[4 << 20];
        for (long pos = 0; pos < device.Length; pos += ours.Length)
        {
            int n = (int)Math.Min(ours.Length, device.Length - pos);
            device.Read(ours.AsSpan(0, n), pos);
            for (int done = 0; done < n;)
            {
                int r = RandomAccess.Read(handle, theirs.AsSpan(done, n - done), pos + done);
                if (r <= 0) return pos;
                done += r;
            }
            if (!ours.AsSpan(0, n).SequenceEqual(theirs.AsSpan(0, n))) return pos;
        }
        return -1;
    }

    /// <summary>sha256 of every file under <paramref name="directory"/>, to prove inputs were not written.</summary>
    public static Dictionary<string, string> Snapshot(string directory) =>
        System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(directory, f), Sha256File);
}
