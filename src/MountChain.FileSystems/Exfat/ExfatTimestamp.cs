using MountChain.FileSystems.Fat;

namespace MountChain.FileSystems.Exfat;

/// <summary>
/// An exFAT timestamp: a DOS date/time (date in the high 16 bits), a 10 ms increment (0–199) and a
/// UTC offset byte (bit 7 = valid, bits 0–6 = signed quarter hours). Without a valid offset the
/// time is read as UTC (exfat-fuse uses the local zone there; run it with TZ=UTC to compare).
/// </summary>
internal static class ExfatTimestamp
{
    public static DateTimeOffset? Decode(uint timestamp, byte tenMs, byte utcOffset)
    {
        TimeSpan? offset = null;
        if ((utcOffset & 0x80) != 0)
        {
            int quarters = (sbyte)(byte)(utcOffset << 1) >> 1; // sign-extend 7 bits
            var o = TimeSpan.FromMinutes(quarters * 15);
            if (o.Duration() <= TimeSpan.FromHours(14)) offset = o;
        }
        return DosTime.Decode((ushort)(timestamp >> 16), (ushort)timestamp, tenMs, offset);
    }
}
