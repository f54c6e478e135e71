using System.Buffers.Binary;
using System.Text;
using MountChain.Core.Chain;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Inspection;
using MountChain.Fuzz.Harness;

namespace MountChain.Fuzz.Targets;

/// <summary>Targets for the VMDK formats: descriptor text, hosted sparse and stream files, flat/ZERO layouts, COWD, SESparse.</summary>
public static class VmdkTargets
{
    public static IEnumerable<FuzzTarget> All()
    {
        yield return new("descriptor", "DescriptorParser (text descriptor)", (input, _) => DescriptorParser.Parse(input, "fuzz.vmdk"));
        yield return new("sparse", "hosted sparse header, embedded descriptor, GD/GT walk, grain reads", SparseFile);
        yield return new("stream", "streamOptimized markers, footer, GD_AT_END, zlib grains", SparseFile);
        yield return new("flat", "descriptor extent layout: FLAT/VMFS with offsets, ZERO, RDONLY", FlatLayout);
        yield return new("cowd", "vmfsSparse (COWD) header, GD/GT walk", (input, scratch) => DeltaExtent(input, scratch, "VMFSSPARSE", "vmfsSparse"));
        yield return new("sesparse", "SESparse header, volatile header, GD/GT walk", (input, scratch) => DeltaExtent(input, scratch, "SESPARSE", "seSparse"));
    }

    /// <summary>Input: a <see cref="SparseImage"/> of a monolithicSparse or streamOptimized file.</summary>
    private static void SparseFile(byte[] input, Scratch scratch)
    {
        string path = scratch.PathOf("fuzz.vmdk");
        SparseImage.Decode(input).WriteTo(path);
        OpenAndRead(path);
    }

    /// <summary>Input: descriptor text; its extents may name flat-a.bin (64 KiB) and flat-b.bin (1 MiB), which exist.</summary>
    private static void FlatLayout(byte[] input, Scratch scratch)
    {
        File.WriteAllBytes(scratch.PathOf("flat-a.bin"), Pattern(64 * 1024));
        File.WriteAllBytes(scratch.PathOf("flat-b.bin"), Pattern(1024 * 1024));
        string path = scratch.PathOf("fuzz.vmdk");
        File.WriteAllBytes(path, input);
        OpenAndRead(path);
    }

    /// <summary>Input: u64 LE extent sectors, then a <see cref="SparseImage"/> of the delta file (named by a fixed descriptor).</summary>
    private static void DeltaExtent(byte[] input, Scratch scratch, string extentType, string createType)
    {
        if (input.Length < 8) return;
        ulong sectors = BinaryPrimitives.ReadUInt64LittleEndian(input) & ((1UL << 40) - 1);
        SparseImage.Decode(input.AsSpan(8)).WriteTo(scratch.PathOf("delta.bin"));
        string descriptor = $"# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"{createType}\"\n\nRW {sectors} {extentType} \"delta.bin\"\n";
        string path = scratch.PathOf("fuzz.vmdk");
        File.WriteAllText(path, descriptor, Encoding.ASCII);
        OpenAndRead(path);
    }

    /// <summary>What info and hash do with a link: open, validate the tables, read the data.</summary>
    private static void OpenAndRead(string path)
    {
        using var chain = VmdkChain.Open(path, new ChainOpenOptions { SingleLink = true });
        foreach (var link in chain.Links) _ = LinkInspector.Inspect(link);
        using var device = chain.OpenGeneration(chain.TopGeneration);
        Exercise.Device(device);
    }

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)(i * 7 + (i >> 9));
        return bytes;
    }
}
