using System.Diagnostics;

namespace MountChain.Tests.FileSystems.Xfs;

/// <summary>Runs the real tools (mkfs.xfs, mount, xfs_db, bash) the XFS fixtures are built with.</summary>
internal static class XfsProcess
{
    public static string Run(string file, params string[] args) => RunIn(null, file, args);

    public static string RunIn(string? workingDirectory, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args.Take(8))} exited {p.ExitCode}: {stderr.Result.Trim()}");
        return stdout;
    }

    /// <summary>Runs one xfs_db command list against an image (read-only unless <paramref name="expert"/>).</summary>
    public static string XfsDb(string image, bool expert, params string[] commands)
    {
        var args = new List<string>();
        if (expert) args.Add("-x");
        foreach (var c in commands) { args.Add("-c"); args.Add(c); }
        args.Add(image);
        return Run("xfs_db", args.ToArray());
    }

    /// <summary>Parses the "(decimal)" part of xfs_db "convert" output, e.g. "0x6000 (24576)".</summary>
    public static long ParseConvert(string output)
    {
        int open = output.IndexOf('('), close = output.IndexOf(')');
        return long.Parse(output[(open + 1)..close]);
    }
}
