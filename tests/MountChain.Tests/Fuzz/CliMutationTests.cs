using System.Buffers.Binary;
using System.Collections.Concurrent;
using MountChain.Fuzz.Harness;

namespace MountChain.Tests.Fuzz;

/// <summary>
/// Structure-aware mutation through the CLI (issue 15): real inputs (qemu-made sparse, stream,
/// flat and child VMDKs; mkfs-made NTFS, XFS v4/v5, ext4 and FAT volumes; an MBR disk) get a few
/// bytes changed inside their metadata (the non-zero sectors: headers, tables, records, not the
/// zero space between), then `info`/`hash`/`volumes`/`ls`/`files-hash` run on them. Each run
/// must succeed, or exit 1 with one line on stderr that names the input file and is not an
/// "internal error"; never another exit code, never silent. Seeded, so a failure reproduces.
/// </summary>
public sealed class CliMutationTests
{
    private const int RunsPerInput = 20;

    private sealed record Input(string Name, string[][] Commands, Func<Random, string, string> MakeMutant);

    [QemuFact]
    public void Mutated_inputs_fail_with_one_line_naming_the_file()
    {
        using var dir = new TempDirectory("mountchain-mutate");
        var inputs = new List<Input>
        {
            VmdkInput("sparse", MakeSparse(dir)),
            VmdkInput("stream", MakeStream(dir)),
            VmdkInput("flat", MakeFlatDescriptor(dir)),
            VmdkInput("child", MakeChild(dir)),
            VolumeInput("ntfs", "ntfs", "ntfs-small"),
            VolumeInput("xfs-v5", "xfs", "xfs-v5"),
            VolumeInput("xfs-v4", "xfs", "xfs-v4"),
            VolumeInput("ext4", "ext4", "ext4-1k"),
            VolumeInput("fat", "fat", "fat32"),
            VolumeInput("mbr", "partitions", "mbr", partition: "p1"),
        };
        var runs = new List<(Input Input, int Seed)>();
        // MOUNTCHAIN_MUTATE_ONLY=name runs one input's mutants (to reproduce a failure).
        string? only = Environment.GetEnvironmentVariable("MOUNTCHAIN_MUTATE_ONLY");
        foreach (var input in inputs.Where(i => only is null || i.Name == only))
            for (int i = 0; i < RunsPerInput; i++) runs.Add((input, i));

        var failures = new ConcurrentBag<string>();
        int rejected = 0;
        Parallel.ForEach(runs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, run =>
        {
            var random = new Random(run.Seed * 7919 + run.Input.Name.Length);
            string file = run.Input.MakeMutant(random, dir.File($"{run.Input.Name}-{run.Seed}"));
            var command = run.Input.Commands[run.Seed % run.Input.Commands.Length];
            string[] args = [.. command.Select(a => a == "{}" ? file : a)];
            string? problem;
            try
            {
                var result = MountChainCli.Run(TimeSpan.FromSeconds(60), args);
                problem = Judge(result, file);
                if (result.ExitCode == 1) Interlocked.Increment(ref rejected);
            }
            catch (TimeoutException)
            {
                problem = "no answer within 60 s";
            }
            if (problem is not null)
            {
                failures.Add($"{run.Input.Name} seed {run.Seed}: mountchain {string.Join(' ', command)}: {problem} (mutant kept in {Keep(file)})");
            }
            else
                DeleteMutant(file);
        });
        Assert.True(failures.IsEmpty, $"{failures.Count} of {runs.Count} runs broke the rule:\n" + string.Join("\n", failures.Order().Take(15)));
        // The mutations must actually hit something: a good share of the runs is rejected.
        Assert.True(rejected >= runs.Count / 10, $"only {rejected} of {runs.Count} mutants were rejected: the mutations miss the metadata");
    }

    /// <summary>Null when the run kept the rule, else what was wrong.</summary>
    private static string? Judge(ProcessResult result, string file)
    {
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("mountchain: warning:", StringComparison.Ordinal)).ToList();
        if (result.ExitCode == 0) return null;
        if (result.ExitCode != 1) return $"exit {result.ExitCode} (stderr: {Short(result.Stderr)})";
        if (lines.Count == 0) return "exit 1 with nothing on stderr";
        if (lines.Count > 1) return $"{lines.Count} lines on stderr: {Short(result.Stderr)}";
        string line = lines[0];
        if (line.Contains("internal error", StringComparison.Ordinal)) return line;
        if (!line.StartsWith("mountchain: ", StringComparison.Ordinal)) return $"not a mountchain error line: {line}";
        if (!line.Contains(file, StringComparison.Ordinal) && !line.Contains(Path.GetFileName(file), StringComparison.Ordinal))
            return $"does not name {Path.GetFileName(file)}: {line}";
        return null;
    }

    /// <summary>Copies a failing mutant out of the temp folder, for reproducing.</summary>
    private static string Keep(string file)
    {
        string kept = Path.Combine(Path.GetTempPath(), "mountchain-mutants");
        Directory.CreateDirectory(kept);
        string target = Path.Combine(kept, Path.GetFileName(file));
        File.Copy(file, target, overwrite: true);
        return target;
    }

    private static string Short(string s) => s.Length > 400 ? s[..400] + "…" : s;

    private static void DeleteMutant(string file)
    {
        foreach (var f in Directory.EnumerateFiles(Path.GetDirectoryName(file)!, Path.GetFileName(file) + "*")) File.Delete(f);
    }

    // --- VMDK inputs: the file's own bytes, mutated in its non-zero sectors ---

    private static Input VmdkInput(string name, string original)
    {
        var bytes = File.ReadAllBytes(original);
        var stored = NonZeroSectors(bytes);
        string[][] commands = [["info", "{}"], ["hash", "{}"], ["volumes", "{}"]];
        return new Input(name, commands, (random, path) =>
        {
            var mutant = (byte[])bytes.Clone();
            int count = 1 + random.Next(4);
            for (int i = 0; i < count; i++)
            {
                long sector = stored[random.Next(stored.Count)];
                int at = (int)(sector * 512) + random.Next(Math.Min(512, bytes.Length - (int)(sector * 512)));
                Mutate(random, mutant, at);
            }
            // Mutants live next to the original, so a child finds its parent and a flat descriptor its extent.
            string file = path + ".vmdk";
            File.WriteAllBytes(file, mutant);
            return file;
        });
    }

    private static string MakeSparse(TempDirectory dir)
    {
        string f = dir.File("sparse-src.vmdk");
        Qemu.Img(dir.Path, "create", "-q", "-f", "vmdk", f, "8M");
        Qemu.Io(dir.Path, f, ["write -P 0x41 0 64k", "write -P 0x42 3M 4k", "write -z 5M 64k"]);
        return f;
    }

    private static string MakeStream(TempDirectory dir)
    {
        string f = dir.File("stream-src.vmdk");
        Qemu.Img(dir.Path, "convert", "-q", "-f", "vmdk", "-O", "vmdk", "-o", "subformat=streamOptimized", MakeSparse(dir), f);
        return f;
    }

    /// <summary>A monolithicFlat descriptor whose extent (flat-extra-flat.bin, named by every mutant) sits next to it.</summary>
    private static string MakeFlatDescriptor(TempDirectory dir)
    {
        File.WriteAllBytes(dir.File("flat-extra-flat.bin"), new byte[1 << 20]);
        string f = dir.File("flat-src.vmdk");
        File.WriteAllText(f, "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\nRW 2048 FLAT \"flat-extra-flat.bin\" 0\n\n# The Disk Data Base\n#DDB\nddb.adapterType = \"ide\"\nddb.geometry.cylinders = \"2\"\n");
        return f;
    }

    /// <summary>A child (monolithicSparse with a parent hint) of child-extra-base.vmdk.</summary>
    private static string MakeChild(TempDirectory dir)
    {
        string parent = dir.File("child-extra-base.vmdk");
        Qemu.Img(dir.Path, "create", "-q", "-f", "vmdk", parent, "8M");
        Qemu.Io(dir.Path, parent, ["write -P 0x41 0 64k"]);
        string f = dir.File("child-src.vmdk");
        Qemu.Img(dir.Path, "create", "-q", "-f", "vmdk", "-b", "child-extra-base.vmdk", "-F", "vmdk", f);
        Qemu.Io(dir.Path, f, ["write -P 0x43 1M 4k"]);
        return f;
    }

    // --- volume images: the fuzz corpus's real mkfs-made images, mutated in their metadata sectors ---

    private static Input VolumeInput(string name, string target, string seed, string partition = "p0")
    {
        var image = FuzzInputs.Seed(target, seed);
        var stored = image.StoredSectorNumbers().ToList();
        string[][] commands = [["files-hash", "{}", "--partition", partition], ["volumes", "{}"], ["ls", "-r", "-l", "{}", $"{partition}:/"]];
        return new Input(name, commands, (random, path) =>
        {
            string file = path + ".img";
            var changed = new Dictionary<long, byte[]>();
            int count = 1 + random.Next(4);
            for (int i = 0; i < count; i++)
            {
                long sector = stored[random.Next(stored.Count)];
                if (!changed.TryGetValue(sector, out var data))
                {
                    data = new byte[512];
                    image.Read(data, sector * 512);
                    changed[sector] = data;
                }
                Mutate(random, data, random.Next(512));
            }
            image.WriteTo(file, changed);
            return file;
        });
    }

    private static List<long> NonZeroSectors(byte[] bytes)
    {
        var list = new List<long>();
        for (long s = 0; s * 512 < bytes.Length; s++)
            if (bytes.AsSpan((int)(s * 512), (int)Math.Min(512, bytes.Length - s * 512)).IndexOfAnyExcept((byte)0) >= 0) list.Add(s);
        return list;
    }

    /// <summary>One mutation at <paramref name="at"/>: a random byte, a bit flip, or a boundary 16/32/64-bit value (sizes, offsets, counts).</summary>
    private static void Mutate(Random random, byte[] data, int at)
    {
        switch (random.Next(6))
        {
            case 0: data[at] = (byte)random.Next(256); break;
            case 1: data[at] ^= (byte)(1 << random.Next(8)); break;
            case 2 when at + 2 <= data.Length: BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(at), (ushort)(random.Next(2) == 0 ? 0xFFFF : 0x8000)); break;
            case 3 when at + 4 <= data.Length:
                uint[] u32 = [0, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x00010000];
                BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), u32[random.Next(u32.Length)]);
                break;
            case 4 when at + 8 <= data.Length:
                ulong[] u64 = [0, ulong.MaxValue, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0x0000000100000000];
                BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(at), u64[random.Next(u64.Length)]);
                break;
            default: data[at] = 0; break;
        }
    }
}
