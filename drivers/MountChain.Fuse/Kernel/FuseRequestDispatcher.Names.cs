using System.Text;
using MountChain.Fuse.Native;
using MountChain.Mounting.Trees;

namespace MountChain.Fuse.Kernel;

// Names and directories: LOOKUP/FORGET keep the node table, OPENDIR/READDIR page through a listing taken once per open.
internal sealed unsafe partial class FuseRequestDispatcher
{
    private int Lookup(ulong parent, byte* nameBytes, int nameLength, byte* payload)
    {
        string? directory = _nodes.PathOf(parent);
        if (directory is null) return -Errno.ENOENT;
        // Read before replying: on io_uring the name and the reply share one buffer.
        string name = NulTerminated(nameBytes, nameLength);
        if (name.Length == 0 || name.Contains('/')) return -Errno.ENOENT;
        string path = name switch
        {
            "." => directory,
            ".." => ParentOf(directory),
            _ => TreePath.Combine(directory, name),
        };
        int r = handler.GetAttributes(path, null, out var node);
        if (r != 0) return r;
        var entry = (FuseEntryOut*)payload;
        *entry = default;
        entry->NodeId = _nodes.Remember(path);
        entry->EntryValid = _validSeconds;
        entry->EntryValidNsec = _validNanoseconds;
        entry->AttrValid = _validSeconds;
        entry->AttrValidNsec = _validNanoseconds;
        FillAttr(&entry->Attr, node!);
        return sizeof(FuseEntryOut);
    }

    private int Forget(ulong nodeId, byte* args)
    {
        _nodes.Forget(nodeId, ((FuseForgetIn*)args)->Count);
        return NoReplyMarker;
    }

    private int BatchForget(byte* args, byte* entries, int entriesLength)
    {
        var batch = (FuseBatchForgetIn*)args;
        long room = entriesLength / sizeof(FuseForgetOne);
        var ones = (FuseForgetOne*)entries;
        for (long i = 0; i < Math.Min(batch->Count, room); i++) _nodes.Forget(ones[i].NodeId, ones[i].Count);
        return NoReplyMarker;
    }

    private int OpenDir(ulong nodeId, byte* payload)
    {
        string? path = _nodes.PathOf(nodeId);
        if (path is null) return -Errno.ENOENT;
        int r = handler.ReadDirectory(path, out var entries, out _);
        if (r != 0) return r;
        var result = (FuseOpenOut*)payload;
        *result = default;
        // The listing is taken once per open: offsets stay meaningful across READDIR calls.
        result->FileHandle = _directories.Add(new OpenDirectory(path, entries!));
        return sizeof(FuseOpenOut);
    }

    /// <summary>READDIR from entry index <c>offset</c>: ".", "..", then the listing; each dirent carries the index of the next.</summary>
    private int ReadDir(byte* args, byte* payload, int capacity)
    {
        var read = (FuseIoIn*)args;
        var directory = _directories.TryGet(read->FileHandle);
        if (directory is null) return -Errno.EBADF;
        int limit = (int)Math.Min(read->Size, (uint)capacity);
        int used = 0;
        long index = (long)read->Offset;
        int total = directory.Entries.Count + 2;
        Span<byte> name = stackalloc byte[1024];
        for (; index < total; index++)
        {
            string text;
            ulong ino;
            uint type;
            if (index == 0) { text = "."; ino = 1; type = FuseConstants.DirentDirectory; }
            else if (index == 1) { text = ".."; ino = 1; type = FuseConstants.DirentDirectory; }
            else
            {
                var entry = directory.Entries[(int)index - 2];
                text = entry.Name;
                ino = (ulong)entry.Id;
                type = entry.Kind switch
                {
                    NodeKind.Directory => FuseConstants.DirentDirectory,
                    NodeKind.RegularFile => FuseConstants.DirentRegular,
                    NodeKind.SymbolicLink => FuseConstants.DirentSymlink,
                    _ => FuseConstants.DirentUnknown,
                };
            }
            if (Encoding.UTF8.GetByteCount(text) > 255) continue; // longer than NAME_MAX: cannot be shown
            int nameLength = Encoding.UTF8.GetBytes(text, name);
            int record = (sizeof(FuseDirent) + nameLength + 7) & ~7;
            if (used + record > limit) break;
            var dirent = (FuseDirent*)(payload + used);
            dirent->Ino = ino;
            dirent->Offset = (ulong)(index + 1);
            dirent->NameLength = (uint)nameLength;
            dirent->Type = type;
            var nameDest = new Span<byte>(payload + used + sizeof(FuseDirent), record - sizeof(FuseDirent));
            nameDest.Clear();
            name[..nameLength].CopyTo(nameDest);
            used += record;
        }
        return used;
    }

    private int ReleaseDir(byte* args)
    {
        _directories.Remove(((FuseHandleIn*)args)->FileHandle);
        return 0;
    }

    private int ReadLink(ulong nodeId, byte* payload, int capacity)
    {
        string? path = _nodes.PathOf(nodeId);
        if (path is null) return -Errno.ENOENT;
        int r = handler.ReadLink(path, out var target);
        if (r != 0) return r;
        var bytes = Encoding.UTF8.GetBytes(target!);
        if (bytes.Length > capacity) return -NameTooLong;
        bytes.CopyTo(new Span<byte>(payload, capacity));
        return bytes.Length;
    }

    private static string NulTerminated(byte* text, int max)
    {
        var span = new ReadOnlySpan<byte>(text, Math.Max(0, max));
        int end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }

    private static string ParentOf(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? TreePath.Root : path[..slash];
    }
}
