namespace MountChain.Tests.FileSystems;

/// <summary>
/// One NTFS image (made by mkntfs, filled through an ntfs-3g mount) shared by the tests of a
/// class, together with what the mount showed: the sha256sum manifest, find's stat fields, link
/// targets and stream contents. Built only when root, /dev/fuse and the tools are present.
/// </summary>
public sealed class PopulatedNtfsImage : IDisposable
{
    public string Directory { get; }
    public string Image => Path.Combine(Directory, "ntfs.img");
    public string ExpectedManifest { get; } = "";
    /// <summary>find -printf '%P\t%y\t%s\t%T@\t%n\t%i' lines from the mount.</summary>
    public string ExpectedStat { get; } = "";
    public string ExpectedLinks { get; } = "";
    public string StreamValue { get; } = "";
    public string Error { get; } = "";

    public static bool Available =>
        Environment.UserName == "root" && File.Exists("/dev/fuse") &&
        new[] { "mkntfs", "ntfs-3g", "setfattr", "getfattr" }.All(Infrastructure.ToolLocator.Exists);

    // What goes on the volume: each line of this script exercises one NTFS structure.
    private const string Populate = """
        set +o pipefail  # yes | head ends with SIGPIPE
        # first, one-cluster files side by side on the empty volume (holes for frag/a, see the end)
        mkdir frag && for i in $(seq 1 2400); do printf '%4096s' $i > frag/hole$i; done
        echo hello > f.txt
        ln f.txt hard
        ln f.txt hard2
        setfattr -n user.stream1 -v streamvalue f.txt
        mkdir sub
        echo inside > sub/inner.txt
        ln -s f.txt link
        ln -s sub linkdir
        ln -s ../f.txt sub/up
        ln -s /etc/hostname abs
        ln -s nowhere dangling
        # many small files
        mkdir small && for i in $(seq 1 200); do echo "small $i" > small/s$i.txt; done
        # thousands of entries: a multi-level $I30 B-tree
        mkdir big && for i in $(seq 1 3000); do echo "$i" > big/entry_with_a_longish_name_$i; done
        # sparse file: holes around two islands of data
        truncate -s 40M sparse.bin
        printf 'island one' | dd of=sparse.bin bs=1 seek=5000000 conv=notrunc status=none
        printf 'island two' | dd of=sparse.bin bs=1 seek=30000000 conv=notrunc status=none
        # compressed directory (FILE_ATTRIBUTE_COMPRESSED is inherited by new files): LZNT1
        mkdir comp && setfattr -n system.ntfs_attrib_be -v 0x00000800 comp
        yes 'compressible text line' | head -c 300000 > comp/text.txt
        head -c 100000 /dev/urandom > comp/random.bin
        { head -c 65536 /dev/urandom; head -c 65536 /dev/zero; yes abc | head -c 70000; } > comp/mixed.bin
        printf 'tiny' > comp/tiny.txt
        yes 'short tail' | head -c 3000 > comp/short.txt
        truncate -s 3M comp/sparse-comp.bin
        yes 'mid' | head -c 100000 | dd of=comp/sparse-comp.bin bs=4096 seek=300 conv=notrunc status=none
        # Unicode names, including one whose UTF-8 and UTF-16 orders differ (U+E000 vs U+1F389)
        echo cafe > café.txt
        echo nihon > 日本語.txt
        echo party > $'\xf0\x9f\x8e\x89party.txt'
        echo private > $'\xee\x80\x80private.txt'
        echo upper > Zeta.txt
        echo backslash > 'back\slash.txt'
        # a deep path
        p=deep; for i in $(seq 1 30); do p=$p/level$i; done; mkdir -p $p && echo bottom > $p/bottom.txt
        # a file with many alternate data streams (pushes attributes into extension records)
        echo many > manystreams.txt
        for i in $(seq 1 60); do setfattr -n user.s$i -v "value-$i-$(printf '%090d' $i)" manystreams.txt; done
        # an empty file and a file of exactly one cluster
        : > empty.txt
        head -c 4096 /dev/urandom > cluster.bin
        # last, since it fills the volume: free space cut into 1-cluster holes (every other hole file), then a file written
        # into them gets hundreds of runs, its $DATA split over extension records ($ATTRIBUTE_LIST)
        cat /dev/zero > frag/filler 2>/dev/null || true
        rm frag/hole{1..2400..2}
        head -c 4800000 /dev/urandom > frag/a
        rm frag/filler
        """;

    public PopulatedNtfsImage()
    {
        Directory = _temp.Path;
        if (!Available) { Error = "tools, root or /dev/fuse missing"; return; }
        string mnt = Path.Combine(Directory, "mnt");
        System.IO.Directory.CreateDirectory(mnt);
        ProcessRunner.Bash($"truncate -s 96M {Image} && mkntfs -F -Q -L FixtureVol {Image} >/dev/null");
        ProcessRunner.Bash($"ntfs-3g {Image} {mnt}");
        try
        {
            ProcessRunner.Bash(Populate, mnt, 600);
            ExpectedManifest = ProcessRunner.Bash("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum", mnt);
            ExpectedStat = ProcessRunner.Bash("find . -mindepth 1 -printf '%P\\t%y\\t%s\\t%T@\\t%n\\t%i\\n'", mnt);
            ExpectedLinks = ProcessRunner.Bash("find . -type l -printf '%P\\t%l\\n'", mnt);
            StreamValue = ProcessRunner.Bash("getfattr -n user.stream1 --only-values f.txt", mnt);
        }
        finally
        {
            ProcessRunner.Bash($"umount {mnt}");
        }
    }

    private readonly TempDirectory _temp = new("mc-ntfs");

    public void Dispose() => _temp.Dispose();
}

/// <summary>Tests that share the one populated image (it takes ~20 s to build).</summary>
[CollectionDefinition(Name)]
public sealed class PopulatedNtfsCollection : ICollectionFixture<PopulatedNtfsImage>
{
    public const string Name = "populated NTFS image";
}
