using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("MountChain.Tests")]
