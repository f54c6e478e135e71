using MountChain.Core.Chain;
using MountChain.Core.Formats;

namespace MountChain.Cli.Infrastructure;

/// <summary>
/// What a disk argument names, decided once for every command, so one input gets one answer
/// (info and hash alike): a VMDK link, a raw image, or a one-line refusal (missing, a directory, empty).
/// </summary>
public static class DiskFile
{
    public enum Kind { Vmdk, Raw }

    /// <summary>The kind of disk at <paramref name="path"/>, or an exception naming it and the problem.</summary>
    public static Kind Classify(string path)
    {
        var kind = PathInspection.Inspect(path);
        switch (kind)
        {
            case PathInspection.Kind.Missing:
                throw new FileNotFoundException($"{path}: no such file", path);
            case PathInspection.Kind.Directory:
                throw new IOException($"{path}: is a directory, not a VMDK or a disk image");
        }
        if (kind == PathInspection.Kind.RegularFile && new FileInfo(path).Length == 0)
            throw new IOException($"{path}: file is empty (neither a VMDK nor a disk image)");
        return VmdkProbe.LooksLikeVmdk(path) ? Kind.Vmdk : Kind.Raw;
    }
}
