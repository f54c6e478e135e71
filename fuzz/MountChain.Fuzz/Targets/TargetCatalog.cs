using MountChain.Fuzz.Harness;

namespace MountChain.Fuzz.Targets;

/// <summary>Every fuzz target, by name.</summary>
public static class TargetCatalog
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
        [.. VmdkTargets.All(), .. VmConfigTargets.All(), .. VolumeTargets.All(), .. NtfsPartTargets.All(), .. NbdTargets.All()];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
