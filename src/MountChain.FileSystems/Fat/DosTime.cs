namespace MountChain.FileSystems.Fat;

/// <summary>
/// MS-DOS date and time fields (FAT and exFAT): date = day 0–4, month 5–8, year-1980 9–15;
/// time = seconds/2 0–4, minute 5–10, hour 11–15. They hold local time of an unknown zone; like
/// Linux vfat (tz=UTC) and mtools with TZ=UTC they are read as UTC. Invalid fields give null.
/// </summary>
internal static class DosTime
{
    /// <param name="hundredths">Extra 10 ms units, 0–199 (FAT creation time, exFAT create/modify).</param>
    public static DateTimeOffset? Decode(ushort date, ushort time, int hundredths = 0, TimeSpan? utcOffset = null)
    {
        int day = date & 0x1F, month = (date >> 5) & 0xF, year = 1980 + (date >> 9);
        int seconds = (time & 0x1F) * 2, minute = (time >> 5) & 0x3F, hour = time >> 11;
        if (day == 0 || month is 0 or > 12 || day > DateTime.DaysInMonth(year, month)) return null;
        if (hour > 23 || minute > 59 || seconds > 59 || hundredths is < 0 or > 199) return null;
        var local = new DateTime(year, month, day, hour, minute, seconds, DateTimeKind.Unspecified).AddMilliseconds(hundredths * 10);
        var offset = utcOffset ?? TimeSpan.Zero;
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}
