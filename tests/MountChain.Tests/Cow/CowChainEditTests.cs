using System.Text;
using MountChain.Core.Chain;
using MountChain.Core.Cow;
using MountChain.Core.Errors;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Cow;

/// <summary>Commit and unlink on real qemu-made chains, and the CLI commands of the issue end to end.</summary>
public sealed class CowChainEditTests
{
    private static readonly RedoLogOptions NoTimer = new() { MetadataFlushInterval = TimeSpan.Zero };

    [CowToolsFact]
    public void Commit_into_a_delta_parent_applies_the_grains_changes_its_CID_and_deletes_the_log()
    {
        using var env = new CowEnvironment();
        var (b, c) = env.QemuChain();
        string baseHash = CowEnvironment.Sha(b);
        string log = env.PathOf("fix.vmdk");
        uint oldCid;
        using (var chain = VmdkChain.Open(c))
        using (var device = RedoLog.OpenOrCreateFor(chain, 1, log, options: NoTimer))
        {
            oldCid = chain.Links[1].Cid;
            var data = new byte[5_000_000];
            new Random(1).NextBytes(data);
            device.Write(data, 333);
            device.Write(data.AsSpan(0, 10), (64L << 20) - 10);
            device.WriteZeroes(30 << 20, 4 << 20); // over c1's own data and over base data
        }
        byte[] expected = env.QemuRaw(log);
        var result = RedoLogOperations.Commit(log);
        Assert.False(File.Exists(log));
        Assert.Equal(oldCid, result.OldParentCid);
        using (var chain = VmdkChain.Open(c)) Assert.Equal(result.NewParentCid, chain.Links[1].Cid);
        env.QemuCheckClean(c);
        Assert.True(env.QemuRaw(c).AsSpan().SequenceEqual(expected));
        Assert.Equal(baseHash, CowEnvironment.Sha(b));
    }

    [CowToolsFact]
    public void Commit_into_a_flat_parent_writes_in_place()
    {
        using var env = new CowEnvironment();
        env.Tool("qemu-img", "create -f vmdk -o subformat=monolithicFlat flat.vmdk 16M");
        env.Tool("qemu-io", "-f vmdk -c \"write -P 0x44 0 16M\" flat.vmdk");
        string log = env.PathOf("f-log.vmdk");
        using (var chain = VmdkChain.Open(env.PathOf("flat.vmdk")))
        using (var device = RedoLog.OpenOrCreateFor(chain, 0, log, options: NoTimer))
        {
            device.Write(Encoding.ASCII.GetBytes("hello, flat"), 1_000_001);
            device.Discard(2 << 20, 1 << 20);
        }
        byte[] expected = env.QemuRaw(log);
        RedoLogOperations.Commit(log);
        Assert.True(env.QemuRaw(env.PathOf("flat.vmdk")).AsSpan().SequenceEqual(expected));
        Assert.True(expected.AsSpan(2 << 20, 1 << 20).IndexOfAnyExcept((byte)0) < 0);
    }

    [CowToolsFact]
    public void Commit_and_unlink_refuse_to_tear_other_links_unless_forced()
    {
        using var env = new CowEnvironment();
        var (b, c) = env.QemuChain();
        string log = env.PathOf("on-base.vmdk");
        using (var chain = VmdkChain.Open(c))
        using (var device = RedoLog.OpenOrCreateFor(chain, 0, log, options: NoTimer))
            device.Write(new byte[] { 1, 2, 3 }, 0);
        string before = CowEnvironment.Sha(b);
        var refused = Assert.Throws<OperationRefusedException>(() => RedoLogOperations.Commit(log));
        Assert.Contains("c1.vmdk", refused.Message);
        Assert.Equal(before, CowEnvironment.Sha(b));
        Assert.True(File.Exists(log));

        var unlinkRefused = Assert.Throws<OperationRefusedException>(() => RedoLogOperations.Unlink(b));
        Assert.Contains("c1.vmdk", unlinkRefused.Message);
        Assert.True(File.Exists(b));

        Assert.Equal([log], RedoLogOperations.Unlink(log));
        Assert.False(File.Exists(log));
        Assert.Equal([c], RedoLogOperations.Unlink(c));
        Assert.Equal([b], RedoLogOperations.Unlink(b, force: false));
    }

    [CowToolsFact]
    public void Unlink_deletes_the_descriptor_and_every_extent_file()
    {
        using var env = new CowEnvironment();
        env.Tool("qemu-img", "create -f vmdk -o subformat=twoGbMaxExtentFlat split.vmdk 3G");
        var before = Directory.GetFiles(env.Dir).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(3, before.Length);
        var deleted = RedoLogOperations.Unlink(env.PathOf("split.vmdk"));
        Assert.Equal(3, deleted.Count);
        Assert.Empty(Directory.GetFiles(env.Dir));
    }

    [CowToolsFact]
    public void The_issue_commands_work_from_the_cli()
    {
        using var env = new CowEnvironment();
        var (b, c) = env.QemuChain();
        string baseHash = CowEnvironment.Sha(b);
        var patch = new byte[150_000];
        new Random(2).NextBytes(patch);
        File.WriteAllBytes(env.PathOf("patch.bin"), patch);

        var r = env.Mountchain("create-child c1.vmdk -g 1 fix.vmdk");
        Assert.True(r.Exit == 0, r.Err);
        r = env.Mountchain("create-child c1.vmdk -g 1 fix.vmdk");
        Assert.Equal(1, r.Exit);
        Assert.Contains("already exists", r.Err);
        r = env.Mountchain("write fix.vmdk --offset 1048577 --input patch.bin");
        Assert.True(r.Exit == 0, r.Err);
        r = env.Mountchain("write fix.vmdk --offset 8M --input -", patch);
        Assert.True(r.Exit == 0, r.Err);
        r = env.Mountchain("write fix.vmdk --offset 16M --zero --length 16M");
        Assert.True(r.Exit == 0, r.Err);
        r = env.Mountchain("write fix.vmdk --offset 60M --discard --length 64K");
        Assert.True(r.Exit == 0, r.Err);
        r = env.Mountchain("write fix.vmdk --offset 0");
        Assert.Equal(2, r.Exit);

        byte[] expected = env.QemuRaw(c);
        patch.CopyTo(expected, 1048577);
        patch.CopyTo(expected, 8 << 20);
        Array.Clear(expected, 16 << 20, 16 << 20);
        Array.Clear(expected, 60 << 20, 64 << 10);
        env.QemuCheckClean(env.PathOf("fix.vmdk"));
        Assert.True(env.QemuRaw(env.PathOf("fix.vmdk")).AsSpan().SequenceEqual(expected));
        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(expected));
        r = env.Mountchain("hash fix.vmdk");
        Assert.StartsWith(sha, r.Out);

        r = env.Mountchain("commit fix.vmdk");
        Assert.True(r.Exit == 0, r.Err);
        Assert.False(File.Exists(env.PathOf("fix.vmdk")));
        Assert.True(env.QemuRaw(c).AsSpan().SequenceEqual(expected));
        Assert.Equal(baseHash, CowEnvironment.Sha(b));

        r = env.Mountchain("unlink base.vmdk");
        Assert.Equal(1, r.Exit);
        Assert.Contains("is the parent of", r.Err);
        r = env.Mountchain("unlink --force base.vmdk");
        Assert.True(r.Exit == 0, r.Err);
        Assert.False(File.Exists(b));
    }
}
