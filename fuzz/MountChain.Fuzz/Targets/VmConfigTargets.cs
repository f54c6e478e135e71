using MountChain.Core.VmConfig;
using MountChain.Fuzz.Harness;

namespace MountChain.Fuzz.Targets;

/// <summary>Targets for the VM's own files: the .vmx (disks) and the .vmsd snapshot database.</summary>
public static class VmConfigTargets
{
    public static IEnumerable<FuzzTarget> All()
    {
        yield return new("vmx", ".vmx dictionary and disk list", (input, scratch) =>
        {
            string path = scratch.PathOf("vm.vmx");
            File.WriteAllBytes(path, input);
            _ = VmxFile.Load(path);
        });
        yield return new("vmsd", ".vmsd snapshot tree", (input, scratch) =>
        {
            string path = scratch.PathOf("vm.vmsd");
            File.WriteAllBytes(path, input);
            _ = SnapshotDatabase.Load(path);
        });
    }
}
