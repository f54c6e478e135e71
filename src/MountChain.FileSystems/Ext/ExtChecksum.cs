using System.Buffers.Binary;
using System.Numerics;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// CRC32c as ext4 metadata_csum uses it: the running value is passed on raw (no final inversion),
/// seeded with the file system's checksum seed (crc32c(~0, uuid) or s_checksum_seed).
/// </summary>
internal static class ExtChecksum
{
    public static uint Crc32c(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) crc = BitOperations.Crc32C(crc, b);
        return crc;
    }

    public static uint Crc32c(uint crc, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return Crc32c(crc, b);
    }

    /// <summary>The per-inode seed: crc32c(crc32c(fs seed, inode number), generation).</summary>
    public static uint InodeSeed(uint fsSeed, uint inode, uint generation) => Crc32c(Crc32c(fsSeed, inode), generation);
}

/// <summary>
/// Where metadata_csum mismatches go: by default each is reported once (a warning) and the structure
/// is used anyway, as e2fsck would show it; in strict mode a mismatch is a corruption error.
/// </summary>
internal sealed class ExtChecksumPolicy
{
    private readonly HashSet<string> _seen = [];
    private readonly Lock _gate = new();
    private readonly List<string> _warnings = [];

    /// <summary>Throw <see cref="Common.FileSystemCorruptException"/> on a mismatch instead of warning.</summary>
    public bool Strict { get; init; }

    /// <summary>Called once per distinct mismatch (in addition to <see cref="Warnings"/>).</summary>
    public Action<string>? Report { get; init; }

    public IReadOnlyList<string> Warnings { get { lock (_gate) return _warnings.ToList(); } }

    /// <summary>At most this many mismatches are reported one by one; then one line says more were found.</summary>
    public const int MaxReported = 20;

    internal void Mismatch(string structure)
    {
        string text = $"{structure}: metadata checksum mismatch";
        if (Strict) throw new Common.FileSystemCorruptException($"{text} (strict checksums)");
        lock (_gate)
        {
            if (_warnings.Count > MaxReported || !_seen.Add(text)) return;
            if (_warnings.Count == MaxReported) text = $"more than {MaxReported} metadata checksum mismatches; further ones are not reported";
            _warnings.Add(text);
        }
        Report?.Invoke(text);
    }
}
