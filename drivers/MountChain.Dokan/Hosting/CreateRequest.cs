using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>What ZwCreateFile should answer, and how to open the node when it succeeds.</summary>
/// <param name="Status">STATUS_SUCCESS, STATUS_OBJECT_NAME_COLLISION (= opened an existing node for OPEN_IF), or an error.</param>
/// <param name="Succeeded">The node was opened (STATUS_OBJECT_NAME_COLLISION is also the answer to FILE_CREATE on an existing node, a failure).</param>
/// <param name="IsDirectory">Tell Dokan the node is a directory (DOKAN_FILE_INFO.IsDirectory).</param>
/// <param name="OpenFile">A regular file must be opened through the tree.</param>
/// <param name="ForWrite">Open it for writing.</param>
public readonly record struct CreateDecision(uint Status, bool Succeeded, bool IsDirectory, bool OpenFile, bool ForWrite);

/// <summary>
/// The ZwCreateFile rules for a tree whose shape is fixed (dokan.h ZwCreateFile notes, ntifs
/// NtCreateFile dispositions): nothing can be created, overwritten or deleted; writing needs a
/// writable tree; directory/non-directory options must match the node.
/// </summary>
public static class CreateRequest
{
    // NtCreateFile CreateDisposition values.
    public const uint Supersede = 0, Open = 1, Create = 2, OpenIf = 3, Overwrite = 4, OverwriteIf = 5;
    // CreateOptions bits.
    public const uint DirectoryFile = 0x1, NonDirectoryFile = 0x40, DeleteOnClose = 0x1000;
    // ACCESS_MASK bits that mean changing the file's data or existence.
    public const uint WriteData = 0x2, AppendData = 0x4, Delete = 0x10000, GenericAll = 0x10000000, GenericWrite = 0x40000000;
    private const uint WritesData = WriteData | AppendData | GenericAll | GenericWrite;

    public static CreateDecision Decide(FileNode? node, bool treeWritable, uint desiredAccess, uint disposition, uint createOptions)
    {
        uint refuseChange = treeWritable ? NtStatus.AccessDenied : NtStatus.MediaWriteProtected;
        if (node is null)
        {
            bool wouldCreate = disposition is Supersede or Create or OpenIf or OverwriteIf;
            return Fail(wouldCreate ? refuseChange : NtStatus.ObjectNameNotFound);
        }
        if (disposition == Create) return Fail(NtStatus.ObjectNameCollision);
        if ((createOptions & DirectoryFile) != 0 && !node.IsDirectory) return Fail(NtStatus.NotADirectory);
        if ((createOptions & NonDirectoryFile) != 0 && node.IsDirectory) return Fail(NtStatus.FileIsADirectory);
        if ((desiredAccess & Delete) != 0 || (createOptions & DeleteOnClose) != 0) return Fail(refuseChange);
        // Overwrite/supersede would truncate the disk to nothing.
        if (disposition is Supersede or Overwrite or OverwriteIf) return Fail(refuseChange);
        bool forWrite = !node.IsDirectory && (desiredAccess & WritesData) != 0;
        if (forWrite && (!treeWritable || !node.Writable)) return Fail(NtStatus.MediaWriteProtected);
        uint status = disposition == OpenIf ? NtStatus.ObjectNameCollision : NtStatus.Success;
        return new CreateDecision(status, true, node.IsDirectory, !node.IsDirectory, forWrite);
    }

    private static CreateDecision Fail(uint status) => new(status, false, false, false, false);
}
