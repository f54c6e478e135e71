using MountChain.Core.Errors;
using MountChain.Core.Formats;
using MountChain.Core.Formats.Cowd;
using MountChain.Core.Formats.Descriptor;
using MountChain.Core.Formats.Flat;
using MountChain.Core.Formats.HostedSparse;
using MountChain.Core.Formats.SeSparse;

namespace MountChain.Core.Chain;

/// <summary>
/// Opens one link from its file: a sparse file with an embedded descriptor, or a text descriptor
/// whose extent lines name the data files (format doc §1.1, §6.1).
/// </summary>
internal static class LinkOpener
{
    public static Link Open(string path)
    {
        switch (PathInspection.Inspect(path))
        {
            case PathInspection.Kind.Missing: throw new MissingParentException(path, "no such file");
            case PathInspection.Kind.Directory: throw new CorruptMetadataException(path, "is a directory, not a VMDK file");
            case PathInspection.Kind.Device: throw new UnsupportedFeatureException(path, "is a device node, not a VMDK file");
            case PathInspection.Kind.Other: throw new UnsupportedFeatureException(path, "is not a regular file");
        }
        return OpenRegularFile(path);
    }

    /// <summary>As <see cref="Open"/>, for a path the caller has just found to be a regular file.</summary>
    public static Link OpenRegularFile(string path)
    {
        var handle = FileOpening.OpenReadOnly(path, knownFile: true);
        bool handedOver = false;
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length == 0) throw new CorruptMetadataException(path, "file is empty");
            Span<byte> head = stackalloc byte[Sector.Size];
            int n = RandomAccess.Read(handle, head, 0);
            head = head[..n];

            if (SparseExtentHeader.HasMagic(head) || (n >= 4 && head[..4].SequenceEqual("kdmv"u8)))
            {
                handedOver = true; // the extent reads through this handle and closes it (one open per link)
                return OpenSparseFile(path, handle);
            }
            if (n >= 4 && head[..4].SequenceEqual("COWD"u8))
                throw new UnsupportedFeatureException(path, "is a vmfsSparse (COWD) extent; open its descriptor instead");
            if (n >= 8 && head[..8].SequenceEqual(new byte[] { 0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0 }))
                throw new UnsupportedFeatureException(path, "is a SESparse extent; open its descriptor instead");
            if (!VmdkProbe.LooksLikeVmdk(head))
                throw new DescriptorException(path, "not a VMDK file: no KDMV header and no descriptor text");
            return Assemble(path, ReadTextDescriptor(handle, length, path), selfSparse: null, []);
        }
        finally
        {
            if (!handedOver) handle.Dispose();
        }
    }

    /// <summary>
    /// The descriptor of a link file, embedded (KDMV) or text, read without opening its extents;
    /// null when the file is not a VMDK link or cannot be read (for folder scans, §1.6).
    /// </summary>
    public static VmdkDescriptor? TryReadDescriptor(string path)
    {
        try
        {
            return ReadDescriptor(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or VmdkException)
        {
            return null;
        }
    }

    /// <summary>
    /// As <see cref="TryReadDescriptor"/>, but a file that looks like a link and cannot be read
    /// throws its one-line error; null only for files that are no link (extent data, other files).
    /// Reads at most the header and the bounded descriptor (§10.1), whatever the file's size.
    /// </summary>
    public static VmdkDescriptor? ReadDescriptor(string path)
    {
        using var handle = FileOpening.OpenReadOnly(path);
        if (EmbeddedDescriptor.TryReadHeader(handle, path) is { } header)
            return EmbeddedDescriptor.ReadDescriptorRegion(handle, header, path) is { } region ? DescriptorParser.Parse(region, path) : null;
        Span<byte> head = stackalloc byte[Sector.Size];
        int n = RandomAccess.Read(handle, head, 0);
        if (n >= 4 && (head[..4].SequenceEqual("COWD"u8) || head[..4].SequenceEqual("kdmv"u8))) return null;
        if (n >= 8 && head[..8].SequenceEqual(new byte[] { 0xBE, 0xBA, 0xFE, 0xCA, 0, 0, 0, 0 })) return null;
        if (!VmdkProbe.LooksLikeVmdk(head[..n])) return null;
        return ReadTextDescriptor(handle, RandomAccess.GetLength(handle), path);
    }

    /// <summary>A text descriptor file (format doc §1.2), bounded in size before it is read.</summary>
    private static VmdkDescriptor ReadTextDescriptor(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length, string path)
    {
        if (length > DescriptorParser.MaxDescriptorBytes)
            throw new DescriptorException(path, $"descriptor file is {length} bytes, more than the {DescriptorParser.MaxDescriptorBytes}-byte limit");
        var text = new byte[length];
        FileOpening.ReadExactly(handle, text, 0, path);
        return DescriptorParser.Parse(text, path);
    }

    /// <summary>A KDMV file opened directly: its embedded descriptor describes the link (§1.1).</summary>
    private static Link OpenSparseFile(string path, Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        var sparse = new HostedSparseExtent(path, handle: handle, takeHandle: true);
        try
        {
            var h = sparse.Header;
            VmdkDescriptor descriptor;
            var region = EmbeddedDescriptor.ReadDescriptorRegion(handle, h, path);
            if (region is null)
            {
                // A sparse file without descriptor (one extent of a split disk): it is what it is, one
                // hosted sparse extent; present it as a base link of its own capacity.
                descriptor = new VmdkDescriptor
                {
                    Version = 1, Cid = VmdkDescriptor.UncheckableCid, ParentCid = VmdkDescriptor.NoParentCid,
                    CreateType = "monolithicSparse", Extents = [new DescriptorExtent(ExtentAccess.ReadWrite, sparse.Sectors, ExtentType.Sparse, System.IO.Path.GetFileName(path), 0)],
                    Header = new Dictionary<string, string>(), Ddb = new Dictionary<string, string>(),
                };
                return new Link(path, descriptor, [sparse], ["sparse file has no embedded descriptor (one extent of a split disk?); read alone as a base disk: open the disk's descriptor .vmdk to read the whole disk"]);
            }
            descriptor = DescriptorParser.Parse(region, path);
            var warnings = new List<string>();
            if (sparse.Warning is not null) warnings.Add(sparse.Warning);
            if (h.UncleanShutdown) warnings.Add("uncleanShutdown is set: the file was not closed cleanly; metadata was validated while reading");
            return Assemble(path, descriptor, sparse, warnings);
        }
        catch
        {
            sparse.Dispose();
            throw;
        }
    }

    private static Link Assemble(string path, VmdkDescriptor descriptor, HostedSparseExtent? selfSparse, List<string> warnings)
    {
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        string selfFull = System.IO.Path.GetFullPath(path);
        string? selfCanonical = null; // realpath only when the names differ (saves syscalls per link)
        var extents = new List<IExtent>();
        bool selfUsed = false;
        // A renamed monolithicSparse/streamOptimized file still names its old file in its embedded
        // descriptor; like qemu and VMware, the single extent of an embedded descriptor is the
        // containing file, whatever name it gives (format doc §1.1).
        bool singleSelfExtent = selfSparse is not null && descriptor.Extents.Count == 1 && descriptor.Extents[0].Type == ExtentType.Sparse;
        try
        {
            int lineIndex = 0;
            foreach (var line in descriptor.Extents)
            {
                lineIndex++;
                if (line.Access == ExtentAccess.NoAccess)
                    throw new UnsupportedFeatureException(path, $"extent line {lineIndex} is NOACCESS: VMware forbids reading it, so the disk cannot be presented (format doc §6.1)");
                if (line.Type == ExtentType.Zero)
                {
                    extents.Add(new ZeroExtent(line.Sectors));
                    continue;
                }
                string file = ResolveExtentFile(directory, line.FileName!);
                switch (line.Type)
                {
                    case ExtentType.Sparse:
                        if (selfSparse is not null && !selfUsed && (singleSelfExtent ||
                            file == selfFull || PathInspection.Canonical(file) == (selfCanonical ??= PathInspection.Canonical(path))))
                        {
                            if (singleSelfExtent && file != selfFull && PathInspection.Canonical(file) != (selfCanonical ??= PathInspection.Canonical(path)))
                                warnings.Add($"embedded descriptor names extent '{line.FileName}', not this file (renamed?); read this file as its extent, as qemu and VMware do");
                            if (selfSparse.Sectors != line.Sectors)
                                throw new CorruptMetadataException(path, $"header capacity {selfSparse.Sectors} sectors differs from the descriptor's extent size {line.Sectors}");
                            extents.Add(selfSparse);
                            selfUsed = true;
                        }
                        else
                        {
                            RequireRegularFile(path, file);
                            extents.Add(new HostedSparseExtent(file, line.Sectors));
                        }
                        break;
                    case ExtentType.Flat:
                    case ExtentType.Vmfs:
                        RequireRegularFile(path, file);
                        extents.Add(new FlatExtent(file, line.Sectors, line.Offset));
                        if (line.Type == ExtentType.Vmfs && line.Offset != 0)
                            warnings.Add($"extent line {lineIndex}: VMFS extent '{line.FileName}' carries offset {line.Offset}, outside the spec (ESXi writes none or 0; qemu refuses it); read from sector {line.Offset} of the file");
                        break;
                    case ExtentType.VmfsSparse:
                        RequireRegularFile(path, file);
                        var cowd = new CowdExtent(file, line.Sectors);
                        extents.Add(cowd);
                        if (cowd.Warning is not null) warnings.Add(cowd.Warning);
                        break;
                    case ExtentType.SeSparse:
                        RequireRegularFile(path, file);
                        extents.Add(new SeSparseExtent(file, line.Sectors));
                        break;
                    case ExtentType.VmfsRdm:
                    case ExtentType.VmfsRaw:
                        throw new UnsupportedFeatureException(path, $"extent line {lineIndex} is a raw device mapping ({line.Type} \"{line.FileName}\"): its data lives on a LUN, not in the folder; copy the LUN's contents to a flat file to read it");
                    case ExtentType.VsanSparse:
                        throw new UnsupportedFeatureException(path, $"extent line {lineIndex} is VSANSPARSE (\"{line.FileName}\"): its data lives in vSAN objects, not in files");
                    default:
                        throw new UnsupportedFeatureException(path, $"extent type {line.Type} ({line.FileName}) is not supported");
                }
            }
            if (selfSparse is not null && !selfUsed)
                throw new CorruptMetadataException(path, "embedded descriptor does not name its own file as an extent");
            return new Link(path, descriptor, extents.ToArray(), warnings);
        }
        catch
        {
            foreach (var e in extents) e.Dispose();
            if (selfSparse is not null && !selfUsed) selfSparse.Dispose();
            throw;
        }
    }

    private static void RequireRegularFile(string descriptorPath, string file)
    {
        var kind = PathInspection.Inspect(file);
        if (kind == PathInspection.Kind.Missing)
            throw new CorruptMetadataException(descriptorPath, $"extent file '{file}' does not exist");
        if (kind != PathInspection.Kind.RegularFile)
            throw new UnsupportedFeatureException(descriptorPath, $"extent '{file}' is not a regular file ({kind})");
    }

    /// <summary>The file an extent line names: relative to the descriptor's folder <paramref name="directory"/>; Windows separators are accepted (§6.1).</summary>
    public static string ResolveExtentFile(string directory, string name)
    {
        string normalized = name.Replace('\\', '/');
        return System.IO.Path.IsPathRooted(normalized) ? normalized : System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, normalized));
    }
}
