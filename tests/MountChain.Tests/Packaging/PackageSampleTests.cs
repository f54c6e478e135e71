using System.Text.RegularExpressions;
using MountChain.Tests.Infrastructure;

namespace MountChain.Tests.Packaging;

/// <summary>
/// scripts/pack.sh's packages are usable: the sample of MountChain.Core's package README, compiled
/// as a console program against the packed package from a local feed (fresh package cache), runs
/// on a real qemu chain, and qemu reads what it wrote into the redo log.
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
    public void Core_package_readme_sample_builds_from_the_local_feed_and_runs_on_a_qemu_chain()
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

        string readme = File.ReadAllText(Path.Combine(root, "src", "MountChain.Core", "PACKAGE.md"));
        string sample = Regex.Match(readme, "```csharp\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains("VmdkChain.Open", sample);
        File.WriteAllText(Path.Combine(app, "Program.cs"), sample);
        File.WriteAllText(Path.Combine(app, "sample.csproj"), $"""
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
                <PackageReference Include="MountChain.Core" Version="0.1.0-test" />
              </ItemGroup>
            </Project>
            """);
        var run = ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--nologo"], app, timeout: TimeSpan.FromMinutes(10));
        Assert.True(run.ExitCode == 0, run.All);
        Assert.Contains("generation 1: 8388608 bytes, first byte 5a", run.Stdout);
        // qemu reads the redo log the package created: the sample's bytes over generation 1.
        var check = ProcessRunner.Run("qemu-io", "-r", "-f", "vmdk", "-c", "read -P 0x68 1M 1", "-c", "read -P 0x5a 0 64k", Path.Combine(app, "work", "fix.vmdk"));
        Assert.True(check.ExitCode == 0 && !check.All.Contains("Pattern verification failed"), check.All);
    }
}
