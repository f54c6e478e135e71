using MountChain.Cli.Infrastructure;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.VmConfig;

namespace MountChain.Cli.Commands;

/// <summary>`info vm.vmx`: the snapshot tree from the .vmsd and, per disk, its chain with each generation labelled (format doc §8).</summary>
public static class VmInfoCommand
{
    public static int Run(string vmxPath, ChainOpenOptions options, bool json)
    {
        var vmx = VmxFile.Load(vmxPath, options.PathMappings);
        var db = vmx.LoadSnapshots();
        string dir = Path.GetDirectoryName(Path.GetFullPath(vmxPath))!;
        var snapshots = db is null ? [] : Flatten(db, null, 0).ToList();
        var disks = vmx.Disks.Select(d => Disk(d, db, dir, options)).ToList();
        var info = new VmInfo(vmx.Path, vmx.DisplayName, db?.Path, db?.CurrentUid, db?.NeedConsolidate ?? false, snapshots, disks);
        if (json) Json.Write(info, Json.Types.VmInfo);
        else Print(info);
        return disks.All(d => d.Error is null) ? ExitCodes.Success : ExitCodes.InputProblem;
    }

    private static IEnumerable<SnapshotInfo> Flatten(SnapshotDatabase db, int? parent, int depth)
    {
        if (depth > 1024) yield break; // parent loops are refused by the parser; this bounds a deep tree
        foreach (var s in db.ChildrenOf(parent))
        {
            yield return new SnapshotInfo(s.Uid, s.ParentUid, depth, s.DisplayName, s.Description, s.CreateTime?.ToString("u"),
                s.Uid == db.CurrentUid, s.Disks.Select(x => new DiskFileInfo(x.Node, x.FileName)).ToList());
            foreach (var child in Flatten(db, s.Uid, depth + 1)) yield return child;
        }
    }

    private static DiskInfo Disk(VmxDisk disk, SnapshotDatabase? db, string dir, ChainOpenOptions options)
    {
        try
        {
            using var chain = VmdkChain.Open(disk.FullPath, options);
            var labels = db is null ? [] : SnapshotGenerations.Labels(chain, db, disk.Node, dir, options.PathMappings);
            var generations = chain.Links.Select((l, g) => new GenerationInfo(g, l.Path, l.CreateType,
                labels.TryGetValue(g, out var list) ? list.Select(s => new SnapshotRef(s.Uid, s.DisplayName)).ToList() : null,
                g == chain.TopGeneration)).ToList();
            return new DiskInfo(disk.Node, disk.FileName, disk.FullPath, generations, null);
        }
        catch (VmdkException e)
        {
            return new DiskInfo(disk.Node, disk.FileName, disk.FullPath, [], e.Message);
        }
    }

    private static void Print(VmInfo info)
    {
        Console.WriteLine($"vm:        {info.File}{(info.DisplayName is null ? "" : $" ({info.DisplayName})")}");
        if (info.SnapshotDatabase is null) Console.WriteLine("snapshots: none (no .vmsd)");
        else
        {
            Console.WriteLine($"snapshots: {info.SnapshotDatabase} ({info.Snapshots.Count} snapshots{(info.CurrentUid is int c ? $", current uid {c}" : "")}{(info.NeedConsolidate ? ", needs consolidation" : "")})");
            foreach (var s in info.Snapshots)
            {
                string indent = new(' ', 2 + 2 * s.Depth);
                Console.WriteLine($"{indent}uid {s.Uid} \"{s.DisplayName}\"{(s.Created is null ? "" : $"  created {s.Created}")}{(s.IsCurrent ? "  <- current" : "")}");
                if (!string.IsNullOrEmpty(s.Description)) Console.WriteLine($"{indent}  description: {s.Description}");
                foreach (var d in s.Disks) Console.WriteLine($"{indent}  {d.Node}: {d.FileName}");
            }
        }
        foreach (var d in info.Disks)
        {
            Console.WriteLine();
            Console.WriteLine($"disk {d.Node}: {d.FileName}");
            if (d.Error is not null) { Console.WriteLine($"  error: {d.Error}"); continue; }
            foreach (var g in d.Generations)
            {
                string label = string.Join(", ", (g.Snapshots ?? []).Select(s => $"snapshot uid {s.Uid} \"{s.DisplayName}\""));
                if (g.IsCurrentState) label = label.Length == 0 ? "current state" : label + "; current state";
                Console.WriteLine($"  generation {g.Generation}: {g.File} ({g.CreateType}){(label.Length == 0 ? "" : "  <- " + label)}");
            }
        }
    }

    public sealed record VmInfo(string File, string? DisplayName, string? SnapshotDatabase, int? CurrentUid, bool NeedConsolidate,
        List<SnapshotInfo> Snapshots, List<DiskInfo> Disks);
    public sealed record SnapshotInfo(int Uid, int? ParentUid, int Depth, string DisplayName, string? Description, string? Created, bool IsCurrent, List<DiskFileInfo> Disks);
    public sealed record DiskFileInfo(string Node, string FileName);
    public sealed record DiskInfo(string Node, string FileName, string FullPath, List<GenerationInfo> Generations, string? Error);
    public sealed record GenerationInfo(int Generation, string File, string CreateType, List<SnapshotRef>? Snapshots, bool IsCurrentState);
    public sealed record SnapshotRef(int Uid, string DisplayName);
}
