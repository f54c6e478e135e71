using MountChain.FileSystems.Ntfs;
using MountChain.Fuzz.Harness;

namespace MountChain.Fuzz.Targets;

/// <summary>NTFS structures on their own, so the fuzzer reaches their corners without a whole volume around them.</summary>
public static class NtfsPartTargets
{
    /// <summary>A volume of 2^20 clusters: runs beyond it are refused, as on a real volume.</summary>
    private const long TotalClusters = 1 << 20;

    public static IEnumerable<FuzzTarget> All()
    {
        yield return new("ntfs-record", "one MFT record: fix-ups, header, attributes (resident, non-resident, names)", (input, _) =>
        {
            if (input.Length < 512) return;
            var record = input.AsSpan(0, input.Length >= 4096 ? 4096 : input.Length >= 1024 ? 1024 : 512).ToArray();
            MftRecord.Parse(record, 5, TotalClusters);
        });
        yield return new("ntfs-runlist", "runlist (mapping pairs) decoding", (input, _) =>
        {
            if (input.Length < 2) return;
            long highest = input[0] == 0 ? -1 : input[0] * 37L;
            RunListDecoder.Decode(input.AsSpan(1), 0, highest, TotalClusters, "fuzz runlist");
        });
        yield return new("ntfs-lznt1", "LZNT1 decompression of one 64 KiB compression unit", (input, _) =>
        {
            var output = new byte[16 * Lznt1.ChunkSize];
            Lznt1.Decompress(input, output, "fuzz compression unit");
        });
    }
}
