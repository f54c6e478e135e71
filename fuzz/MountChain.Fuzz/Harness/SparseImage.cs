using System.Buffers.Binary;

namespace MountChain.Fuzz.Harness;

/// <summary>
/// The compact form fuzz inputs use for disks, volumes and VMDK files, so that a 300 MB XFS or a
/// 64 KiB-overhead sparse VMDK is a few KiB the fuzzer can mutate: a u32 LE length in 512-byte
/// sectors, then records of (u32 LE first sector, u8 count-1, count×512 data bytes). Sectors no
/// record names are zeros; a truncated last record is padded with zeros; later records win.
/// </summary>
public static class SparseImage
{
    public const int SectorSize = 512;

    /// <summary>Largest image a fuzz input may describe (2 TiB); it is never materialised whole.</summary>
    public const long MaxSectors = uint.MaxValue;

    public static SparseSectors Decode(ReadOnlySpan<byte> input)
    {
        var sectors = new SparseSectors();
        if (input.Length < 4) return sectors;
        long length = BinaryPrimitives.ReadUInt32LittleEndian(input);
        int at = 4;
        long highest = 0;
        while (at + 5 <= input.Length)
        {
            long first = BinaryPrimitives.ReadUInt32LittleEndian(input[at..]);
            int count = input[at + 4] + 1;
            at += 5;
            for (int i = 0; i < count && at < input.Length; i++, at += SectorSize)
            {
                var data = new byte[SectorSize];
                input[at..Math.Min(input.Length, at + SectorSize)].CopyTo(data);
                sectors.Set(first + i, data);
                highest = Math.Max(highest, first + i + 1);
            }
        }
        sectors.LengthSectors = length == 0 ? highest : length;
        return sectors;
    }

    /// <summary>Packs the non-zero sectors of <paramref name="image"/> (used to turn real images into seeds).</summary>
    public static byte[] Encode(Stream image)
    {
        long total = (image.Length + SectorSize - 1) / SectorSize;
        if (total > MaxSectors) throw new ArgumentException($"image of {total} sectors is larger than a fuzz input can describe");
        var output = new MemoryStream();
        var u32 = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)total);
        output.Write(u32);
        var sector = new byte[SectorSize];
        var run = new MemoryStream();
        long runStart = -1;
        int runCount = 0;
        void FlushRun()
        {
            if (runCount == 0) return;
            BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)runStart);
            output.Write(u32);
            output.WriteByte((byte)(runCount - 1));
            run.Position = 0;
            run.CopyTo(output);
            run.SetLength(0);
            runCount = 0;
        }
        image.Position = 0;
        for (long s = 0; s < total; s++)
        {
            Array.Clear(sector);
            image.ReadAtLeast(sector, SectorSize, throwOnEndOfStream: false);
            if (sector.AsSpan().IndexOfAnyExcept((byte)0) < 0) { FlushRun(); continue; }
            if (runCount == 0) runStart = s;
            run.Write(sector);
            if (++runCount == 256) FlushRun();
        }
        FlushRun();
        return output.ToArray();
    }
}

/// <summary>Sectors of a decoded <see cref="SparseImage"/>: only the stored ones take memory.</summary>
public sealed class SparseSectors
{
    private readonly Dictionary<long, byte[]> _sectors = [];

    public long LengthSectors { get; set; }
    public long Length => LengthSectors * SparseImage.SectorSize;
    public int StoredCount => _sectors.Count;

    public void Set(long sector, byte[] data) => _sectors[sector] = data;

    /// <summary>The sectors the image stores (its non-zero ones when packed from a real image).</summary>
    public IEnumerable<long> StoredSectorNumbers() => _sectors.Keys.Where(s => s < LengthSectors).Order();

    /// <summary>Copies bytes at <paramref name="offset"/>; unstored sectors read as zeros.</summary>
    public void Read(Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            long sector = offset / SparseImage.SectorSize;
            int inSector = (int)(offset % SparseImage.SectorSize);
            int n = Math.Min(buffer.Length, SparseImage.SectorSize - inSector);
            if (_sectors.TryGetValue(sector, out var data)) data.AsSpan(inSector, n).CopyTo(buffer);
            else buffer[..n].Clear();
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <summary>Writes the image as a sparse file (holes where no sector is stored), for parsers that open files.</summary>
    public void WriteTo(string path, IReadOnlyDictionary<long, byte[]>? replaced = null)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        RandomAccess.SetLength(handle, Length);
        foreach (var (sector, data) in _sectors)
            if (sector < LengthSectors) RandomAccess.Write(handle, replaced?.GetValueOrDefault(sector) ?? data, sector * SparseImage.SectorSize);
    }
}
