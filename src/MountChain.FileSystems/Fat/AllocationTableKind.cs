namespace MountChain.FileSystems.Fat;

/// <summary>The width and special values of a File Allocation Table's entries.</summary>
internal enum AllocationTableKind : byte { Fat12, Fat16, Fat32, Exfat }

internal static class AllocationTableKinds
{
    /// <summary>Smallest entry value meaning "end of chain".</summary>
    public static uint EndOfChain(this AllocationTableKind kind) => kind switch
    {
        AllocationTableKind.Fat12 => 0xFF8,
        AllocationTableKind.Fat16 => 0xFFF8,
        AllocationTableKind.Fat32 => 0x0FFFFFF8,
        _ => 0xFFFFFFF8, // exFAT: FFFFFFFF ends a chain; F8..FE are not cluster numbers either
    };

    /// <summary>The entry value of a cluster marked bad.</summary>
    public static uint BadCluster(this AllocationTableKind kind) => kind.EndOfChain() - 1;

    public static string Name(this AllocationTableKind kind) => kind switch
    {
        AllocationTableKind.Fat12 => "FAT12",
        AllocationTableKind.Fat16 => "FAT16",
        AllocationTableKind.Fat32 => "FAT32",
        _ => "exFAT",
    };
}
