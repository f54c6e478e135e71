using MountChain.Mounting.Trees;

namespace MountChain.Dokan.Hosting;

/// <summary>
/// The Dokan operations in managed terms (paths as Windows gives them, NTSTATUS results); the
/// native trampolines only convert arguments. Shares the tree, attribute and error logic with FUSE.
/// </summary>
public sealed class DokanRequestHandler(IFileTree tree)
{
    public IFileTree Tree => tree;

    public CreateDecision Create(string windowsPath, uint desiredAccess, uint disposition, uint createOptions, out IOpenFile? file)
    {
        file = null;
        try
        {
            var path = TreePath.Normalize(windowsPath);
            var decision = CreateRequest.Decide(tree.Find(path), tree.CanWrite, desiredAccess, disposition, createOptions);
            if (decision.Succeeded && decision.OpenFile) file = tree.Open(path, decision.ForWrite);
            return decision;
        }
        catch (Exception e)
        {
            return new CreateDecision(NtStatus.From(e), false, false, false, false);
        }
    }

    public uint Read(IOpenFile file, Span<byte> buffer, long offset, out int read)
    {
        read = 0;
        try
        {
            read = file.Read(buffer, offset);
            return NtStatus.Success;
        }
        catch (Exception e) { return NtStatus.From(e); }
    }

    public uint Write(IOpenFile file, ReadOnlySpan<byte> data, long offset, bool toEndOfFile, out int written)
    {
        written = 0;
        try
        {
            written = file.Write(data, toEndOfFile ? file.Node.Size : offset);
            return NtStatus.Success;
        }
        catch (Exception e) { return NtStatus.From(e); }
    }

    public uint Flush(IOpenFile file)
    {
        try
        {
            if (file.IsWritable) file.Flush();
            return NtStatus.Success;
        }
        catch (Exception e) { return NtStatus.From(e); }
    }

    public uint GetInformation(string windowsPath, IOpenFile? file, out FileNode? node)
    {
        node = null;
        try
        {
            node = file?.Node ?? tree.Find(TreePath.Normalize(windowsPath));
            return node is null ? NtStatus.ObjectNameNotFound : NtStatus.Success;
        }
        catch (Exception e) { return NtStatus.From(e); }
    }

    public uint List(string windowsPath, out IReadOnlyList<FileNode>? entries)
    {
        entries = null;
        try
        {
            entries = tree.List(TreePath.Normalize(windowsPath));
            return NtStatus.Success;
        }
        catch (Exception e) { return NtStatus.From(e); }
    }

    /// <summary>Free space for GetDiskFreeSpace: (available to caller, total, free).</summary>
    public (ulong Available, ulong Total, ulong Free) Space()
    {
        var v = tree.Volume;
        return ((ulong)v.FreeBytes, (ulong)v.TotalBytes, (ulong)v.FreeBytes);
    }

    /// <summary>The change-shaped operations (delete, move, resize, set times) on a fixed tree.</summary>
    public uint RefuseChange() => tree.CanWrite ? NtStatus.AccessDenied : NtStatus.MediaWriteProtected;

    /// <summary>SetEndOfFile/SetAllocationSize: only the current size is acceptable.</summary>
    public uint Resize(string windowsPath, IOpenFile? file, long size)
    {
        var node = file?.Node ?? tree.Find(TreePath.Normalize(windowsPath));
        if (node is null) return NtStatus.ObjectNameNotFound;
        return size == node.Size ? NtStatus.Success : RefuseChange();
    }
}
