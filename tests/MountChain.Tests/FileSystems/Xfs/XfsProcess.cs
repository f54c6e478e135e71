namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>xfs_db helpers for the XFS fixtures (programs run through <see cref="ProcessRunner"/>).</summary>
internal static class XfsProcess
{
    /// <summary>Runs one xfs_db command list against an image (read-only unless <paramref name="expert"/>).</summary>
    public static string XfsDb(string image, bool expert, params string[] commands)
    {
        var args = new List<string>();
        if (expert) args.Add("-x");
        foreach (var c in commands) { args.Add("-c"); args.Add(c); }
        args.Add(image);
        return ProcessRunner.Check("xfs_db", args);
    }

    /// <summary>Parses the "(decimal)" part of xfs_db "convert" output, e.g. "0x6000 (24576)".</summary>
    public static long ParseConvert(string output)
    {
        int open = output.IndexOf('('), close = output.IndexOf(')');
        return long.Parse(output[(open + 1)..close]);
    }
}
