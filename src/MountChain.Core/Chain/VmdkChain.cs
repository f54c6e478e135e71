using MountChain.Core.BlockDevices;

namespace MountChain.Core.Chain;

/// <summary>Placeholder; replaced by the real chain.</summary>
public sealed class VmdkChain : IDisposable
{
    public static VmdkChain Open(string path, ChainOpenOptions? options = null) => throw new NotImplementedException();
    public int TopGeneration => 0;
    public IBlockDevice OpenGeneration(int generation) => throw new NotImplementedException();
    public void Dispose() { }
}
