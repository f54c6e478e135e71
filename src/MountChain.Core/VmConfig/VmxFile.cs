using System.Text.RegularExpressions;
using MountChain.Core.Chain;
using MountChain.Core.Errors;

namespace MountChain.Core.VmConfig;

/// <summary>A virtual disk of a VM: controller slot (`scsi0:0`), the file as written, and where it is now.</summary>
internal sealed record VmxDisk(string Node, string FileName, string FullPath);

/// <summary>
/// The disks of a VM's .vmx (format doc §8.2: `&lt;bus&gt;&lt;n&gt;:&lt;m&gt;.fileName`, minus CD-ROMs and
/// absent devices) and the .vmsd that holds its snapshot tree.
/// </summary>
internal sealed partial class VmxFile
{
    private VmxFile(string path, string? displayName, IReadOnlyList<VmxDisk> disks, string? snapshotDatabasePath)
    {
        Path = path;
        DisplayName = displayName;
        Disks = disks;
        SnapshotDatabasePath = snapshotDatabasePath;
    }

    public string Path { get; }
    public string? DisplayName { get; }
    /// <summary>Ordered by bus, controller, unit: scsi0:0 before scsi0:1 before scsi1:0.</summary>
    public IReadOnlyList<VmxDisk> Disks { get; }
    /// <summary>The .vmsd next to the .vmx (same name, else the only one in the folder), or null when there is none.</summary>
    public string? SnapshotDatabasePath { get; }

    public static bool IsVmx(string path) => path.EndsWith(".vmx", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"^(scsi|sata|ide|nvme)(\d{1,3}):(\d{1,3})\.filename$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DiskKey();

    public static VmxFile Load(string path, IReadOnlyList<PathMapping>? mappings = null)
    {
        var d = VmwareDictionary.Load(path);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var disks = new List<(string Bus, int N, int M, VmxDisk Disk)>();
        foreach (var (key, value) in d.Values)
        {
            var m = DiskKey().Match(key);
            if (!m.Success) continue;
            string node = key[..key.LastIndexOf('.')];
            if (string.Equals(d[node + ".present"], "FALSE", StringComparison.OrdinalIgnoreCase)) continue;
            string deviceType = d[node + ".deviceType"] ?? "";
            if (deviceType.Contains("cdrom", StringComparison.OrdinalIgnoreCase) || !value.EndsWith(".vmdk", StringComparison.OrdinalIgnoreCase)) continue;
            disks.Add((m.Groups[1].Value.ToLowerInvariant(), int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value),
                new VmxDisk(node.ToLowerInvariant(), value, ResolveFile(dir, value, mappings))));
        }
        return new VmxFile(path, d["displayName"],
            disks.OrderBy(x => x.Bus, StringComparer.Ordinal).ThenBy(x => x.N).ThenBy(x => x.M).Select(x => x.Disk).ToList(),
            FindSnapshotDatabase(path, dir));
    }

    public SnapshotDatabase? LoadSnapshots() => SnapshotDatabasePath is null ? null : SnapshotDatabase.Load(SnapshotDatabasePath);

    /// <summary>The disk at <paramref name="node"/> (null: the first disk).</summary>
    public VmxDisk Disk(string? node)
    {
        if (Disks.Count == 0) throw new MissingParentException(Path, "the .vmx names no virtual disk (no scsiN:M/sataN:M/ideN:M/nvmeN:M .fileName ending in .vmdk)");
        if (node is null) return Disks[0];
        return Disks.FirstOrDefault(x => x.Node.Equals(node, StringComparison.OrdinalIgnoreCase))
            ?? throw new MissingParentException(Path, $"the .vmx has no disk {node}; disks: {string.Join(", ", Disks.Select(x => x.Node))}");
    }

    /// <summary>
    /// A file name written in a .vmx/.vmsd, as it lies now: relative to the VM folder, a mapped
    /// or existing absolute path, else its base name in the VM folder (format doc §8.2, §1.7).
    /// </summary>
    public static string ResolveFile(string vmDirectory, string written, IReadOnlyList<PathMapping>? mappings)
    {
        foreach (var mapping in mappings ?? [])
            if (mapping.Apply(written) is string mapped && File.Exists(mapped)) return mapped;
        string normalized = PathMapping.Normalize(written);
        bool absolute = normalized.StartsWith('/') || PathMapping.IsWindowsStyle(normalized);
        if (!absolute) return System.IO.Path.GetFullPath(System.IO.Path.Combine(vmDirectory, normalized));
        if (!PathMapping.IsWindowsStyle(normalized) && File.Exists(normalized)) return normalized;
        return System.IO.Path.Combine(vmDirectory, normalized[(normalized.LastIndexOf('/') + 1)..]);
    }

    private static string? FindSnapshotDatabase(string vmxPath, string dir)
    {
        string sameName = System.IO.Path.ChangeExtension(System.IO.Path.GetFullPath(vmxPath), ".vmsd");
        if (File.Exists(sameName)) return sameName;
        var all = Directory.EnumerateFiles(dir, "*.vmsd").Take(2).ToList();
        return all.Count == 1 ? all[0] : null;
    }
}
