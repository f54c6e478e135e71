namespace MountChain.Core.Formats;

/// <summary>
/// The unit every VMDK offset and size counts in: 512 bytes, also on disks whose logical sector
/// is 4 KiB (format doc §10.1). Use these instead of a literal 512 wherever a sector is meant.
/// </summary>
internal static class Sector
{
    public const int Size = 512;
    /// <summary>log2 of <see cref="Size"/>: <c>sectors &lt;&lt; Shift</c> is bytes.</summary>
    public const int Shift = 9;

    /// <summary>Sectors needed to hold <paramref name="bytes"/> bytes (rounded up).</summary>
    public static long CeilingOf(long bytes) => (bytes + Size - 1) >> Shift;
}
