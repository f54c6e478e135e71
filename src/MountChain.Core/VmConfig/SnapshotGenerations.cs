using System.Globalization;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;

namespace MountChain.Core.VmConfig;

/// <summary>A generation a snapshot names: the file to open and the generation of its chain (null: its top).</summary>
internal sealed record SnapshotChoice(string DiskPath, int? Generation, Snapshot? Snapshot);

/// <summary>
/// Ties .vmsd snapshots to chain generations (format doc §8.3): a snapshot's `diskM.fileName` for a
/// disk is the link holding that snapshot's state, so its generation is that link (and its
/// parents). `-g NAME|UID` is resolved here for both a .vmx and a .vmdk argument.
/// </summary>
internal static class SnapshotGenerations
{
    /// <summary>True when <paramref name="selector"/> is a plain generation number, not a snapshot name or uid.</summary>
    public static bool IsNumber(string? selector, out int number)
    {
        number = 0;
        return selector is not null && int.TryParse(selector, NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    /// <summary>
    /// What to open for a .vmx: its disk <paramref name="node"/> (default the first), at generation
    /// <paramref name="selector"/> (a number of the current disk's chain, or a snapshot name/uid).
    /// </summary>
    public static SnapshotChoice ForVmx(string vmxPath, string? selector, string? node, IReadOnlyList<PathMapping>? mappings)
    {
        var vmx = VmxFile.Load(vmxPath, mappings);
        var disk = vmx.Disk(node);
        if (selector is null || IsNumber(selector, out _))
            return new SnapshotChoice(disk.FullPath, selector is null ? null : int.Parse(selector, CultureInfo.InvariantCulture), null);
        var db = vmx.LoadSnapshots() ?? throw new MissingParentException(vmxPath, $"-g '{selector}' names a snapshot, but there is no .vmsd next to the .vmx");
        var snapshot = db.Find(selector);
        var held = snapshot.Disks.FirstOrDefault(x => x.Node.Equals(disk.Node, StringComparison.OrdinalIgnoreCase))
            ?? throw new MissingParentException(db.Path, $"snapshot '{snapshot.DisplayName}' (uid {snapshot.Uid}) holds no state for disk {disk.Node}");
        string dir = Path.GetDirectoryName(Path.GetFullPath(vmxPath))!;
        return new SnapshotChoice(VmxFile.ResolveFile(dir, held.FileName, mappings), null, snapshot);
    }

    /// <summary>The generation of <paramref name="chain"/> that snapshot <paramref name="selector"/> (name or uid) holds, from a .vmsd in the top link's folder.</summary>
    public static int GenerationOf(VmdkChain chain, string selector)
    {
        string top = chain.Links[^1].Path;
        string dir = Path.GetDirectoryName(Path.GetFullPath(top))!;
        var databases = Directory.EnumerateFiles(dir, "*.vmsd").Take(16).ToList();
        if (databases.Count == 0)
            throw new MissingParentException(top, $"-g '{selector}' is not a generation number and there is no .vmsd in {dir} to look a snapshot name up in");
        var canonical = chain.Links.Select(l => PathInspection.Canonical(l.Path)).ToList();
        VmdkException? first = null;
        foreach (var path in databases)
        {
            Snapshot snapshot;
            try { snapshot = SnapshotDatabase.Load(path).Find(selector); }
            catch (VmdkException e) { first ??= e; continue; }
            foreach (var held in snapshot.Disks)
            {
                string file = VmxFile.ResolveFile(dir, held.FileName, null);
                if (!File.Exists(file)) continue;
                int g = canonical.IndexOf(PathInspection.Canonical(file));
                if (g >= 0) return g;
            }
            throw new OperationRefusedException(top, $"snapshot '{snapshot.DisplayName}' (uid {snapshot.Uid}) is not in this chain (another branch): open {string.Join(" or ", snapshot.Disks.Select(x => x.FileName))} instead");
        }
        throw first!;
    }

    /// <summary>Labels for the links of a disk's chain: generation → snapshots whose state it holds (§8.3).</summary>
    public static Dictionary<int, List<Snapshot>> Labels(VmdkChain chain, SnapshotDatabase db, string node, string vmDirectory, IReadOnlyList<PathMapping>? mappings)
    {
        var canonical = chain.Links.Select(l => PathInspection.Canonical(l.Path)).ToList();
        var labels = new Dictionary<int, List<Snapshot>>();
        foreach (var snapshot in db.Snapshots)
            foreach (var held in snapshot.Disks.Where(x => x.Node.Equals(node, StringComparison.OrdinalIgnoreCase)))
            {
                string file = VmxFile.ResolveFile(vmDirectory, held.FileName, mappings);
                int g = File.Exists(file) ? canonical.IndexOf(PathInspection.Canonical(file)) : -1;
                if (g < 0) continue;
                if (!labels.TryGetValue(g, out var list)) labels[g] = list = [];
                list.Add(snapshot);
            }
        return labels;
    }
}
