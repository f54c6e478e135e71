using System.Globalization;
using System.Text;
using MountChain.Core.Chain;
using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.HostedSparse;

namespace MountChain.Core.Cow;

/// <summary>What a commit did.</summary>
/// <param name="Resumed">True when an interrupted commit was found already applied and only the log was deleted.</param>
public sealed record CommitResult(string LogPath, string ParentPath, uint OldParentCid, uint NewParentCid, long BytesCopied, long BytesZeroed, IReadOnlyList<string> Repairs, bool Resumed);

/// <summary>
/// The VDDK-style chain edits around redo logs (design.md rule 5): CreateChild, revert/commit of a
/// log into its parent, Unlink. Attach is <see cref="WritableGeneration.Attach"/>.
/// </summary>
public static class RedoLogOperations
{
    /// <summary>Suffix of the commit marker written next to a log before its parent's CID changes.</summary>
    public const string CommitMarkerSuffix = ".mc-commit";

    /// <summary>
    /// VDDK CreateChild on generation <paramref name="generation"/>: a new, empty monolithicSparse
    /// redo log whose parent is that link (format doc §2.8). Creating a second child on a generation
    /// that already has one makes an independent branch (linked clone). Returns the open log.
    /// </summary>
    public static RedoLog CreateChild(VmdkChain chain, int generation, string childPath, RedoLogOptions? options = null)
    {
        chain.RequireGeneration(generation);
        childPath = Path.GetFullPath(childPath);
        if (!childPath.EndsWith(".vmdk", StringComparison.OrdinalIgnoreCase))
            throw new OperationRefusedException(childPath, "a redo log's file name must end in .vmdk");
        var parent = chain.Links[generation];
        string childDir = Path.GetDirectoryName(childPath)!;
        if (!Directory.Exists(childDir))
            throw new DirectoryNotFoundException($"{childDir}: no such directory");
        // §1.7: qemu and VMware resolve the hint relative to the child's folder.
        string hint = Path.GetRelativePath(childDir, Path.GetFullPath(parent.Path)).Replace('\\', '/');
        IEnumerable<KeyValuePair<string, string>> ddb = [];
        for (int g = generation; g >= 0; g--)
            if (chain.Links[g].Descriptor.Ddb.Count > 0) { ddb = chain.Links[g].Descriptor.Ddb; break; }
        var log = RedoLog.Create(childPath, parent.CapacitySectors, parent.Cid, hint, ddb, options);
        // Recorded beside the parent so unlink/commit of the parent see this child in any folder.
        if (ChildRegistry.Register(parent.Path, log.Path) is { } warning) log.Warnings.Add(warning);
        return log;
    }

    /// <summary>
    /// Revert/commit: applies the log's grains to its parent, gives the parent a new CID, then deletes
    /// the log. Only into a parent we may write (hosted sparse or flat), and, unless
    /// <paramref name="force"/>, not when other links in the folder name that parent (they would be
    /// torn) or the log (they would lose their parent). Crash-safe and idempotent: until the parent's
    /// CID changes, parent+log still read as the committed content (the log covers every grain
    /// written); a marker file records the new CID so a re-run after a crash only finishes the delete.
    /// </summary>
    public static CommitResult Commit(string logPath, bool force = false, Action<long, long>? progress = null)
    {
        logPath = Path.GetFullPath(logPath);
        string marker = logPath + CommitMarkerSuffix;
        if (!File.Exists(logPath) && ReadMarker(marker) is { } done)
        {
            // Killed after deleting the log, before deleting the marker: the commit is complete.
            File.Delete(marker);
            WritableFile.SyncDirectory(Path.GetDirectoryName(logPath)!);
            return new CommitResult(logPath, done.Parent, 0, done.NewCid, 0, 0, [], Resumed: true);
        }
        var noTimer = new RedoLogOptions { MetadataFlushInterval = TimeSpan.Zero };
        using var log = RedoLog.Open(logPath, noTimer); // recovers an unclean log; never written here
        var repairs = log.Repairs.ToList();
        var pending = ReadMarker(marker);

        VmdkChain chain;
        try
        {
            chain = VmdkChain.Open(logPath);
        }
        catch (ChainMismatchException) when (pending is not null)
        {
            // An earlier commit may have changed the parent's CID and stopped before deleting the log.
            using var relaxed = VmdkChain.Open(logPath, new ChainOpenOptions { IgnoreCid = true });
            var p = relaxed.Links[^2];
            if (PathInspection.Canonical(p.Path) != pending.Value.Parent || p.Cid != pending.Value.NewCid)
                throw;
            uint newCid = p.Cid;
            string parentPath = p.Path;
            relaxed.Dispose();
            log.Dispose();
            DeleteLogAndMarker(logPath, marker);
            return new CommitResult(logPath, parentPath, log.ParentCid, newCid, 0, 0, repairs, Resumed: true);
        }
        using (chain)
        {
            int parentIndex = chain.TopGeneration - 1;
            if (parentIndex < 0) throw new MissingParentException(logPath, "has no parent to commit into");
            var parent = chain.Links[parentIndex];
            string logDir = Path.GetDirectoryName(logPath)!;
            string parentDir = Path.GetDirectoryName(Path.GetFullPath(parent.Path))!;
            if (!force)
            {
                var siblings = LinkFolderScan.ChildrenOf(parent.Path, [parentDir, logDir], [logPath]);
                if (siblings.Count > 0)
                    throw new OperationRefusedException(logPath, $"other links use its parent {parent.Path} as theirs ({string.Join(", ", siblings)}); committing would tear them (use --force to commit anyway)");
                var children = LinkFolderScan.ChildrenOf(logPath, [logDir], []);
                if (children.Count > 0)
                    throw new OperationRefusedException(logPath, $"is the parent of {string.Join(", ", children)}; committing would delete their parent (use --force)");
            }

            long copied = 0, zeroed = 0;
            using (var below = parentIndex > 0 ? chain.OpenGeneration(parentIndex - 1) : null)
            using (var target = new CommitTarget(parent, below))
            {
                var extent = log.Extent;
                long grainBytes = extent.GrainBytes, grains = extent.GrainCount, capacity = extent.CapacityBytes;
                byte[] buffer = new byte[16 * grainBytes];
                for (long g = 0; g < grains;)
                {
                    uint e = extent.Entry(g);
                    if (e == 0) { g++; continue; }
                    int run = extent.ContiguousRun(g, 16);
                    long offset = g * grainBytes;
                    long length = Math.Min(run * grainBytes, capacity - offset);
                    if (e == 1)
                    {
                        target.WriteZeroes(offset, length);
                        zeroed += length;
                    }
                    else
                    {
                        extent.ReadData(buffer.AsSpan(0, (int)length), (long)e * Sector.Size);
                        target.Write(buffer.AsSpan(0, (int)length), offset);
                        copied += length;
                    }
                    g += run;
                    progress?.Invoke(g * grainBytes, grains * grainBytes);
                }
                target.Flush(); // grains reach the parent (data, barrier, tables, barrier) before its CID changes
            }

            uint oldCid = parent.Cid;
            uint newParentCid = DescriptorText.NewCid(oldCid, log.Cid, log.ParentCid);
            WriteMarker(marker, PathInspection.Canonical(parent.Path), newParentCid);
            SetLinkCid(parent.Path, newParentCid);
            string parentPath = parent.Path;
            chain.Dispose();
            log.Dispose();
            DeleteLogAndMarker(logPath, marker);
            ChildRegistry.Forget(parentPath, logPath);
            ChildRegistry.Delete(logPath);
            return new CommitResult(logPath, parentPath, oldCid, newParentCid, copied, zeroed, repairs, Resumed: false);
        }
    }

    private static void DeleteLogAndMarker(string logPath, string marker)
    {
        File.Delete(logPath);
        WritableFile.SyncDirectory(Path.GetDirectoryName(logPath)!);
        File.Delete(marker);
        WritableFile.SyncDirectory(Path.GetDirectoryName(logPath)!);
    }

    private static (string Parent, uint NewCid)? ReadMarker(string marker)
    {
        if (!File.Exists(marker)) return null;
        string? parent = null;
        uint? cid = null;
        foreach (var line in File.ReadAllLines(marker))
        {
            if (line.StartsWith("parent=", StringComparison.Ordinal)) parent = line["parent=".Length..];
            if (line.StartsWith("newCID=", StringComparison.Ordinal) && uint.TryParse(line["newCID=".Length..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint c)) cid = c;
        }
        return parent is null || cid is null ? null : (parent, cid.Value);
    }

    private static void WriteMarker(string marker, string parent, uint newCid) =>
        ReplaceFile(marker, Encoding.UTF8.GetBytes($"parent={parent}\nnewCID={newCid:x8}\n"));

    /// <summary>Writes a whole small file atomically: temporary name, fsync, rename, fsync the folder.</summary>
    private static void ReplaceFile(string path, byte[] content)
    {
        string temporary = path + $".mc-tmp-{Environment.ProcessId}";
        using (var file = new WritableFile(temporary, create: !File.Exists(temporary)))
        {
            file.SetLength(0);
            file.Write(content, 0);
            file.Sync();
        }
        File.Move(temporary, path, overwrite: true);
        WritableFile.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Gives a link a new CID (and longContentID if it has one): in the embedded descriptor region, or by replacing the descriptor file.</summary>
    private static void SetLinkCid(string linkPath, uint cid)
    {
        SparseExtentHeader? header;
        byte[]? region = null;
        using (var probe = FileOpening.OpenReadOnly(linkPath))
        {
            header = EmbeddedDescriptor.TryReadHeader(probe, linkPath);
            if (header is not null) region = EmbeddedDescriptor.ReadRegion(probe, header, linkPath);
        }
        if (header is not null)
        {
            if (region is null) throw new CorruptMetadataException(linkPath, "has no embedded descriptor to give a new CID");
            string text = DescriptorText.WithCid(EmbeddedDescriptor.TextOf(region), cid, addLongContentId: false);
            var updated = EmbeddedDescriptor.TryEncode(text, header)
                ?? throw new CorruptMetadataException(linkPath, "the new descriptor does not fit its region");
            using var file = new WritableFile(linkPath, create: false);
            EmbeddedDescriptor.Write(file, header, updated);
            file.Sync();
        }
        else
        {
            string text = DescriptorText.WithCid(File.ReadAllText(linkPath), cid, addLongContentId: false);
            ReplaceFile(linkPath, Encoding.UTF8.GetBytes(text));
        }
    }

    /// <summary>
    /// VDDK Unlink: deletes a link's descriptor and extent files. Refused, unless
    /// <paramref name="force"/>, when a link names it as parent: any .vmdk in its folder, or a
    /// child mountchain created anywhere (<see cref="ChildRegistry"/>). Returns the files deleted.
    /// </summary>
    public static IReadOnlyList<string> Unlink(string path, bool force = false)
    {
        path = Path.GetFullPath(path);
        var descriptor = LinkOpener.TryReadDescriptor(path)
            ?? throw new OperationRefusedException(path, "is not a VMDK link (no descriptor could be read); refusing to delete it");
        string dir = Path.GetDirectoryName(path)!;
        if (!force)
        {
            var children = LinkFolderScan.ChildrenOf(path, [dir], []);
            if (children.Count > 0)
                throw new OperationRefusedException(path, $"is the parent of {string.Join(", ", children)}; deleting it would break them (use --force)");
        }
        var deleted = new List<string>();
        // The descriptor goes first: a crash then leaves stray extent files, never a link without data.
        File.Delete(path);
        deleted.Add(path);
        WritableFile.SyncDirectory(dir);
        foreach (var line in descriptor.Extents)
        {
            if (line.FileName is null) continue;
            string file = LinkOpener.ResolveExtentFile(dir, line.FileName);
            if (file == path || !File.Exists(file)) continue;
            File.Delete(file);
            deleted.Add(file);
        }
        WritableFile.SyncDirectory(dir);
        ChildRegistry.Delete(path);
        if (descriptor.ParentFileNameHint is { } hint)
            foreach (string parent in ParentResolver.Candidates(path, hint, ParentResolver.NoParentMap, []).Where(File.Exists))
                ChildRegistry.Forget(parent, path);
        return deleted;
    }
}
