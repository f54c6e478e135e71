using System.Text.RegularExpressions;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Packaging;

/// <summary>
/// scripts/pack.sh's packages are usable: the sample of MountChain.Core's package README, compiled
/// as a console program against the packed package from a local feed (fresh package cache), runs
/// on a real qemu chain, and qemu reads what it wrote into the redo log; the FileSystems sample runs
/// on the same chain and the Nbd sample compiles (so no sample uses what is internal).
/// </summary>
public sealed class PackageSampleTests : IDisposable
{
    private readonly TempDirectory _dir = new("mountchain-pack");

    public void Dispose() => _dir.Dispose();

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MountChain.sln"))) return dir.FullName;
        throw new InvalidOperationException("MountChain.sln not found above " + AppContext.BaseDirectory);
    }

    [QemuFact]
    public void Package_readme_samples_build_from_the_local_feed_and_run_on_a_qemu_chain()
    {
        string root = RepoRoot();
        string feed = _dir.Dir("feed");
        var pack = ProcessRunner.Run("bash", [Path.Combine(root, "scripts", "pack.sh"), feed],
            timeout: TimeSpan.FromMinutes(15), environment: new Dictionary<string, string> { ["VERSION"] = "0.1.0-test" });
        Assert.True(pack.ExitCode == 0, pack.All);
        Assert.Contains("MountChain.Core.0.1.0-test.nupkg", pack.Stdout);

        // The chain the sample names: vm/disk-000003.vmdk over vm/disk.vmdk, generation 1 written by qemu.
        string app = _dir.Dir("app");
        string vm = Directory.CreateDirectory(Path.Combine(app, "vm")).FullName;
        Directory.CreateDirectory(Path.Combine(app, "work"));
        Qemu.Img(vm, "create", "-q", "-f", "vmdk", "disk.vmdk", "8M");
        string parent = "disk.vmdk";
        for (int g = 1; g <= 3; g++)
        {
            string child = $"disk-00000{g}.vmdk";
            Qemu.Img(vm, "create", "-q", "-f", "vmdk", "-b", parent, "-F", "vmdk", child);
            if (g == 1) Qemu.Io(vm, child, ["write -P 0x5a 0 64k"]);
            parent = child;
        }

        string sample = Sample(root, "MountChain.Core");
        Assert.Contains("VmdkChain.Open", sample);
        WriteProject(app, "MountChain.Core", sample, feed);
        var run = ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--nologo"], app, timeout: TimeSpan.FromMinutes(10));
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("generation 1: 8388608 bytes, first byte 5a", run.Stdout);
        // qemu reads the redo log the package created: the sample's bytes over generation 1.
        var check = ProcessRunner.Run("qemu-io", "-r", "-f", "vmdk", "-c", "read -P 0x68 1M 1", "-c", "read -P 0x5a 0 64k", Path.Combine(app, "work", "fix.vmdk"));
        Assert.True(check.ExitCode == 0 && !check.All.Contains("Pattern verification failed"), check.All);

        // The FileSystems sample lists the volumes of the same chain; the Nbd sample (a server that
        // runs until stopped) must compile against the public surface.
        string volumes = _dir.Dir("volumes-app");
        Directory.CreateSymbolicLink(Path.Combine(volumes, "vm"), vm);
        WriteProject(volumes, "MountChain.FileSystems", Sample(root, "MountChain.FileSystems"), feed);
        var listed = ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--nologo"], volumes, timeout: TimeSpan.FromMinutes(10));
        Assert.True(listed.ExitCode == 0, listed.All);
        string nbd = _dir.Dir("nbd-app");
        WriteProject(nbd, "MountChain.Nbd", Sample(root, "MountChain.Nbd"), feed);
        var built = ProcessRunner.Run("dotnet", ["build", "-c", "Release", "--nologo"], nbd, timeout: TimeSpan.FromMinutes(10));
        Assert.True(built.ExitCode == 0, built.All);
    }

    /// <summary>The first C# block of a package's PACKAGE.md: the sample of that package.</summary>
    private static string Sample(string root, string package)
    {
        var block = Regex.Match(File.ReadAllText(Path.Combine(root, "src", package, "PACKAGE.md")), "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(block.Success, $"{package}/PACKAGE.md has no C# sample");
        return block.Groups[1].Value;
    }

    /// <summary>A console program of <paramref name="code"/> referencing <paramref name="package"/> from the local feed (fresh package cache).</summary>
    private void WriteProject(string dir, string package, string code, string feed)
    {
        File.WriteAllText(Path.Combine(dir, "Program.cs"), code);
        File.WriteAllText(Path.Combine(dir, "sample.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <RestorePackagesPath>{_dir.File("packages")}</RestorePackagesPath>
                <RestoreAdditionalProjectSources>{feed}</RestoreAdditionalProjectSources>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{package}" Version="0.1.0-test" />
              </ItemGroup>
            </Project>
            """);
    }
}
