namespace MountChain.FileSystems.Volumes;

/// <summary>
/// Names of the common partition types, as fdisk/sfdisk print them: GPT type GUIDs (UEFI
/// specification and the Discoverable Partitions Specification) and MBR type bytes.
/// </summary>
internal static class PartitionTypeNames
{
    private static readonly Dictionary<string, string> Gpt = new(StringComparer.OrdinalIgnoreCase)
    {
        ["c12a7328-f81f-11d2-ba4b-00a0c93ec93b"] = "EFI System",
        ["21686148-6449-6e6f-744e-656564454649"] = "BIOS boot",
        ["0fc63daf-8483-4772-8e79-3d69d8477de4"] = "Linux filesystem",
        ["e6d6d379-f507-44c2-a23c-238f2a3df928"] = "Linux LVM",
        ["0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"] = "Linux swap",
        ["a19d880f-05fc-4d3b-a006-743f0f84911e"] = "Linux RAID",
        ["4f68bce3-e8cd-4db1-96e7-fbcaf984b709"] = "Linux root (x86-64)",
        ["b921b045-1df0-41c3-af44-4c6f280d3fae"] = "Linux root (ARM-64)",
        ["933ac7e1-2eb4-4f13-b844-0e14e2aef915"] = "Linux home",
        ["bc13c2ff-59e6-4262-a352-b275fd6f7172"] = "Linux extended boot",
        ["ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"] = "Microsoft basic data",
        ["e3c9e316-0b5c-4db8-817d-f92df00215ae"] = "Microsoft reserved",
        ["de94bba4-06d1-4d40-a16a-bfd50179d6ac"] = "Windows recovery environment",
        ["5808c8aa-7e8f-42e0-85d2-e1e90434cfb3"] = "Microsoft LDM metadata",
        ["af9b60a0-1431-4f62-bc68-3311714a69ad"] = "Microsoft LDM data",
        ["48465300-0000-11aa-aa11-00306543ecac"] = "Apple HFS/HFS+",
        ["7c3457ef-0000-11aa-aa11-00306543ecac"] = "Apple APFS",
        ["aa31e02a-400f-11db-9590-000c2911d1b8"] = "VMware VMFS",
        ["9d275380-40ad-11db-bf97-000c2911d1b8"] = "VMware kcore crash protection",
        ["516e7cb4-6ecf-11d6-8ff8-00022d09712b"] = "FreeBSD data",
        ["6a898cc3-1dd2-11b2-99a6-080020736631"] = "Solaris /usr & Apple ZFS",
    };

    private static readonly Dictionary<string, string> Mbr = new(StringComparer.OrdinalIgnoreCase)
    {
        ["0x01"] = "FAT12", ["0x04"] = "FAT16 <32M", ["0x05"] = "Extended", ["0x06"] = "FAT16",
        ["0x07"] = "HPFS/NTFS/exFAT", ["0x0b"] = "W95 FAT32", ["0x0c"] = "W95 FAT32 (LBA)",
        ["0x0e"] = "W95 FAT16 (LBA)", ["0x0f"] = "W95 Ext'd (LBA)", ["0x11"] = "Hidden FAT12",
        ["0x17"] = "Hidden HPFS/NTFS", ["0x1b"] = "Hidden W95 FAT32", ["0x1c"] = "Hidden W95 FAT32 (LBA)",
        ["0x27"] = "Hidden NTFS WinRE", ["0x42"] = "SFS / Windows dynamic", ["0x82"] = "Linux swap",
        ["0x83"] = "Linux", ["0x85"] = "Linux extended", ["0x8e"] = "Linux LVM", ["0xa5"] = "FreeBSD",
        ["0xee"] = "GPT protective", ["0xef"] = "EFI (FAT-12/16/32)", ["0xfb"] = "VMware VMFS",
        ["0xfc"] = "VMware VMKCORE", ["0xfd"] = "Linux raid autodetect",
    };

    /// <summary>The name of <paramref name="partition"/>'s type, or null when it is not one we know.</summary>
    public static string? Of(Partition partition) => partition.Scheme switch
    {
        PartitionScheme.Gpt => Gpt.GetValueOrDefault(partition.TypeId),
        PartitionScheme.Mbr => Mbr.GetValueOrDefault(partition.TypeId),
        _ => null,
    };
}
