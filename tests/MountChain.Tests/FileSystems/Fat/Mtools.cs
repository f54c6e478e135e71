using MountChain.Tests.Infrastructure;
namespace MountChain.Tests.FileSystems.Fat;

/// <summary>
/// mtools on one partition of a raw disk image (image@@offset), with TZ=UTC so that FAT's local
/// times mean UTC to mtools as they do to our reader. The real tools' view of a generation is
/// what <c>mcopy -s -m</c> copies out: content and modification times.
/// </summary>
internal sealed class Mtools(string image, long offset)
{
    private string Drive => $"{image}@@{offset}";

    /// <summary>Runs a bash script in which <c>$I</c> is the mtools image spec (use <c>mcopy -i "$I" …</c>).</summary>
    public string Run(string script, string workingDirectory) =>
        ProcessRunner.Bash($"export TZ=UTC MTOOLS_SKIP_CHECK=1 LC_ALL=C.UTF-8 I='{Drive}'\n{script}", workingDirectory);

    /// <summary>Copies the whole volume out with mcopy (times kept) into a fresh <paramref name="target"/>.</summary>
    public void CopyOut(string target, string workingDirectory)
    {
        if (Directory.Exists(target)) Directory.Delete(target, true);
        Directory.CreateDirectory(target);
        Run($"mcopy -s -m -n -i \"$I\" ::/ '{target}/'", workingDirectory);
    }

    /// <summary>find | sort | sha256sum of a directory: the format of files-hash.</summary>
    public static string Manifest(string directory) =>
        ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum", directory);

    /// <summary>"seconds path" of every regular file, sorted by path: the modification times a tree shows.</summary>
    public static string Times(string directory) =>
        ProcessRunner.Bash("find . -type f -printf '%T@ %p\\n' | sed 's/\\.[0-9]* / /' | LC_ALL=C sort -k2", directory);
}
