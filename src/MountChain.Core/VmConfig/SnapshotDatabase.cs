using System.Globalization;
using System.Text.RegularExpressions;
using MountChain.Core.Errors;

namespace MountChain.Core.VmConfig;

/// <summary>One disk a snapshot captured: controller slot and the link holding that state (format doc §8.1).</summary>
internal sealed record SnapshotDisk(string Node, string FileName);

/// <summary>One `snapshotN.*` entry of a .vmsd (format doc §8.1).</summary>
internal sealed record Snapshot(int Uid, int? ParentUid, string DisplayName, string? Description, DateTimeOffset? CreateTime,
    string? StateFile, IReadOnlyList<SnapshotDisk> Disks);

/// <summary>
/// The snapshot database of a VM (.vmsd, format doc §8.1): the snapshot tree (uid, parent,
/// names, creation times, the disk file each snapshot holds) and the current snapshot.
/// </summary>
internal sealed partial class SnapshotDatabase
{
    private SnapshotDatabase(string path, IReadOnlyList<Snapshot> snapshots, int? current, bool needConsolidate)
    {
        Path = path;
        Snapshots = snapshots;
        CurrentUid = current;
        NeedConsolidate = needConsolidate;
    }

    public string Path { get; }
    /// <summary>In slot order (snapshot0, snapshot1, …), which is not the hierarchy.</summary>
    public IReadOnlyList<Snapshot> Snapshots { get; }
    /// <summary>`snapshot.current`: the snapshot the running state descends from.</summary>
    public int? CurrentUid { get; }
    public bool NeedConsolidate { get; }

    [GeneratedRegex(@"^snapshot(\d{1,6})\.(.+)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SlotKey();

    [GeneratedRegex(@"^disk(\d{1,4})\.(node|filename)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DiskKey();

    public static SnapshotDatabase Load(string path) => From(VmwareDictionary.Load(path));

    public static SnapshotDatabase From(VmwareDictionary d)
    {
        var slots = new SortedDictionary<int, Dictionary<string, string>>();
        foreach (var (key, value) in d.Values)
        {
            var m = SlotKey().Match(key);
            if (!m.Success) continue;
            int slot = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            if (!slots.TryGetValue(slot, out var fields)) slots[slot] = fields = new(StringComparer.OrdinalIgnoreCase);
            fields[m.Groups[2].Value] = value;
        }
        var snapshots = new List<Snapshot>();
        var uids = new HashSet<int>();
        foreach (var (slot, f) in slots)
        {
            string prefix = $"snapshot{slot}";
            if (!f.TryGetValue("uid", out var uidText))
                throw new CorruptMetadataException(d.Path, $"{prefix} has no uid");
            int uid = ParseInt(d.Path, $"{prefix}.uid", uidText);
            if (!uids.Add(uid))
                throw new CorruptMetadataException(d.Path, $"{prefix}.uid {uid} is used by another snapshot too");
            int? parent = f.TryGetValue("parent", out var p) ? ParseInt(d.Path, $"{prefix}.parent", p) : null;
            var disks = new SortedDictionary<int, (string? Node, string? File)>();
            foreach (var (key, value) in f)
            {
                var m = DiskKey().Match(key);
                if (!m.Success) continue;
                int i = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                var cur = disks.GetValueOrDefault(i);
                disks[i] = m.Groups[2].Value.Equals("node", StringComparison.OrdinalIgnoreCase) ? (value, cur.File) : (cur.Node, value);
            }
            snapshots.Add(new Snapshot(uid, parent, f.GetValueOrDefault("displayName") ?? "", f.GetValueOrDefault("description"),
                CreateTime(d.Path, prefix, f), f.GetValueOrDefault("filename"),
                disks.Values.Where(x => x.Node is not null && x.File is not null).Select(x => new SnapshotDisk(x.Node!, x.File!)).ToList()));
        }
        int? current = d["snapshot.current"] is string c ? ParseInt(d.Path, "snapshot.current", c) : null;
        if (current is int cu && !uids.Contains(cu))
            throw new CorruptMetadataException(d.Path, $"snapshot.current is {cu}, but no snapshot has that uid");
        foreach (var s in snapshots)
            if (s.ParentUid is int pu && !uids.Contains(pu))
                throw new CorruptMetadataException(d.Path, $"snapshot uid {s.Uid} ('{s.DisplayName}') names parent uid {pu}, which does not exist");
        CheckNoCycle(d.Path, snapshots);
        return new SnapshotDatabase(d.Path, snapshots, current, string.Equals(d["snapshot.needConsolidate"], "TRUE", StringComparison.OrdinalIgnoreCase));
    }

    public Snapshot? ByUid(int uid) => Snapshots.FirstOrDefault(s => s.Uid == uid);

    /// <summary>The children of <paramref name="uid"/> (null: the roots), in uid order.</summary>
    public IEnumerable<Snapshot> ChildrenOf(int? uid) => Snapshots.Where(s => s.ParentUid == uid).OrderBy(s => s.Uid);

    /// <summary>
    /// The snapshot <paramref name="selector"/> names: a display name (exact, then case-insensitive)
    /// or a uid (`uid:N`, or a bare N no name matches). Two snapshots with the same name are refused: pick one by uid.
    /// </summary>
    public Snapshot Find(string selector)
    {
        // "uid:N" always means a uid (a bare number on the command line is a generation number).
        if (selector.StartsWith("uid:", StringComparison.OrdinalIgnoreCase))
        {
            if (int.TryParse(selector[4..], NumberStyles.None, CultureInfo.InvariantCulture, out int u) && ByUid(u) is { } s) return s;
            throw new MissingParentException(Path, $"no snapshot has {selector}; uids: {string.Join(", ", Snapshots.Select(x => x.Uid))}");
        }
        var exact = Snapshots.Where(s => s.DisplayName == selector).ToList();
        if (exact.Count == 0) exact = Snapshots.Where(s => string.Equals(s.DisplayName, selector, StringComparison.OrdinalIgnoreCase)).ToList();
        if (exact.Count == 1) return exact[0];
        if (exact.Count > 1)
            throw new OperationRefusedException(Path, $"{exact.Count} snapshots are named '{selector}' (uids {string.Join(", ", exact.Select(s => s.Uid))}); pick one by uid");
        if (int.TryParse(selector, NumberStyles.None, CultureInfo.InvariantCulture, out int uid) && ByUid(uid) is { } byUid) return byUid;
        string names = string.Join(", ", Snapshots.Select(s => $"'{s.DisplayName}' (uid {s.Uid})"));
        throw new MissingParentException(Path, $"no snapshot is named '{selector}' or has that uid; snapshots: {(names.Length == 0 ? "none" : names)}");
    }

    /// <summary>createTimeHigh/Low: (high &lt;&lt; 32) + (uint)low microseconds since 1970 UTC; low is written signed (§8.1).</summary>
    private static DateTimeOffset? CreateTime(string path, string prefix, Dictionary<string, string> f)
    {
        if (!f.TryGetValue("createTimeHigh", out var hi) || !f.TryGetValue("createTimeLow", out var lo)) return null;
        if (!long.TryParse(hi, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long high) ||
            !long.TryParse(lo, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long low) || low < int.MinValue || low > uint.MaxValue)
            throw new CorruptMetadataException(path, $"{prefix}.createTimeHigh/Low '{hi}'/'{lo}' are not 32-bit numbers");
        long micros = (high << 32) + (uint)low;
        if (high < 0 || high > 0x7FFFF || micros / 1000 > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            throw new CorruptMetadataException(path, $"{prefix}.createTimeHigh {high} is not a plausible time");
        return DateTimeOffset.FromUnixTimeMilliseconds(micros / 1000);
    }

    private static void CheckNoCycle(string path, List<Snapshot> snapshots)
    {
        var byUid = snapshots.ToDictionary(s => s.Uid);
        foreach (var s in snapshots)
        {
            var seen = new HashSet<int>();
            for (Snapshot? x = s; x?.ParentUid is int p; x = byUid.GetValueOrDefault(p))
                if (!seen.Add(x.Uid))
                    throw new CorruptMetadataException(path, $"snapshot uid {s.Uid} ('{s.DisplayName}') is its own ancestor (parent loop)");
        }
    }

    private static int ParseInt(string path, string key, string text) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v)
            ? v : throw new CorruptMetadataException(path, $"{key} '{text}' is not a number");
}
