namespace MountChain.Core.Formats.Descriptor;

/// <summary>Access word of an extent line (format doc §1.2).</summary>
public enum ExtentAccess : byte { ReadWrite, ReadOnly, NoAccess }

/// <summary>Extent type word of an extent line (format doc §1.2, §6.1).</summary>
public enum ExtentType : byte { Flat, Sparse, Zero, Vmfs, VmfsSparse, VmfsRdm, VmfsRaw, SeSparse, VsanSparse }

/// <summary>One extent line: "RW 204800 SPARSE "disk.vmdk"" or "RW 2048 VMFS "x-flat.vmdk" 0".</summary>
/// <param name="Sectors">Length of the extent in 512-byte sectors.</param>
/// <param name="FileName">File the data lives in, as written (null for ZERO).</param>
/// <param name="Offset">Start sector inside the file (FLAT/VMFS), 0 when absent.</param>
public sealed record DescriptorExtent(ExtentAccess Access, long Sectors, ExtentType Type, string? FileName, long Offset);
