using MountChain.Tests.Infrastructure;
namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// Turns raw disk images of consecutive generations into a real VMDK chain: qemu-img converts
/// generation 0, and each child, made by qemu-img create -b, receives through qemu-io exactly the
/// grains in which its raw image differs from the previous one.
/// </summary>
internal static class RawChain
{
    private const int Grain = 65536;

    /// <summary>Builds base.vmdk, child1.vmdk, … in <paramref name="dir"/> from <paramref name="raws"/>; returns the last link.</summary>
    public static string Build(string dir, IReadOnlyList<string> raws)
    {
        string parent = Path.Combine(dir, "base.vmdk");
        ProcessRunner.Bash($"qemu-img convert -O vmdk {raws[0]} {parent}");
        for (int g = 1; g < raws.Count; g++)
        {
            string child = Path.Combine(dir, $"child{g}.vmdk");
            ProcessRunner.Bash($"qemu-img create -q -f vmdk -b {Path.GetFileName(parent)} -F vmdk {child}", dir);
            WriteDifferences(dir, raws[g - 1], raws[g], child);
            parent = child;
        }
        return parent;
    }

    private static void WriteDifferences(string dir, string before, string after, string child)
    {
        using var a = File.OpenHandle(before);
        using var b = File.OpenHandle(after);
        long length = RandomAccess.GetLength(b);
        var x = new byte[Grain];
        var y = new byte[Grain];
        var commands = new List<string>();
        for (long off = 0; off < length; off += Grain)
        {
            RandomAccess.Read(a, x, off);
            RandomAccess.Read(b, y, off);
            if (x.AsSpan().SequenceEqual(y)) continue;
            string chunk = Path.Combine(dir, $"grain{commands.Count}.bin");
            File.WriteAllBytes(chunk, y);
            commands.Add($"-c \"write -s {chunk} {off} {Grain}\"");
        }
        Assert.NotEmpty(commands);
        foreach (var batch in commands.Chunk(200))
            ProcessRunner.Bash($"qemu-io -f vmdk {string.Join(' ', batch)} {child} >/dev/null");
        ProcessRunner.Bash($"rm -f {dir}/grain*.bin");
    }
}
