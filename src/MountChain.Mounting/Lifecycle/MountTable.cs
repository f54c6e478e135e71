using System.Text;

namespace MountChain.Mounting.Lifecycle;

/// <summary>One line of /proc/self/mountinfo (proc(5)): the mount point, its device and file-system type.</summary>
public sealed record MountEntry(string MountPoint, int DeviceMajor, int DeviceMinor, string FileSystemType, string Source);

/// <summary>Reads the kernel's mount table to tell whether a directory is a mount point, and of what.</summary>
public static class MountTable
{
    private const string MountInfoPath = "/proc/self/mountinfo";
    // mountinfo fields before the " - " separator: id, parent, major:minor, root, mount point, options...
    private const int DeviceField = 2;
    private const int MountPointField = 4;

    public static IReadOnlyList<MountEntry> Read()
    {
        var result = new List<MountEntry>();
        foreach (var line in File.ReadLines(MountInfoPath))
        {
            int separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0) continue;
            var head = line[..separator].Split(' ');
            var tail = line[(separator + 3)..].Split(' ');
            if (head.Length <= MountPointField || tail.Length < 2) continue;
            var device = head[DeviceField].Split(':');
            if (device.Length != 2 || !int.TryParse(device[0], out int major) || !int.TryParse(device[1], out int minor)) continue;
            result.Add(new MountEntry(Unescape(head[MountPointField]), major, minor, tail[0], Unescape(tail[1])));
        }
        return result;
    }

    /// <summary>The mount on exactly this directory (the last one when several are stacked), or null.</summary>
    public static MountEntry? Find(string mountPoint)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        return Read().LastOrDefault(e => e.MountPoint == full);
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s.Substring(at, 3).All(c => c is >= '0' and <= '7');
}
