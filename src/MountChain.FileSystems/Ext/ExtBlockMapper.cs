using System.Buffers.Binary;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ext;

/// <summary>
/// Builds a file's block map as sorted, non-overlapping runs: from an extent tree of any depth
/// (kernel ext4_extents.h) or from direct, single, double and triple indirect blocks (ext2/3).
/// Every pointer is checked against the file system; a tree that loops, goes deeper than its
/// header says, overlaps itself or grows beyond <see cref="MaxRuns"/> is corrupt.
/// </summary>
internal sealed class ExtBlockMapper(ExtSuperblock sb, ExtMetadataReader metadata, ExtChecksumPolicy checksums)
{
    /// <summary>At most this many runs per file (24 bytes each: 24 MiB), far beyond any real file's fragmentation.</summary>
    public const int MaxRuns = 1_000_000;
    private const ushort ExtentMagic = 0xF30A;
    private const int MaxDepth = 5; // kernel EXT4_MAX_EXTENT_DEPTH

    public ExtRun[] Map(ExtInode inode)
    {
        var runs = new List<ExtRun>();
        int nodes = 0;
        if (inode.HasExtents) WalkExtents(inode, inode.BlockArray, -1, 0, runs, 0, ref nodes);
        else MapIndirect(inode, runs);
        var result = runs.ToArray();
        CheckNoSharedBlocks(inode, result);
        return result;
    }

    /// <summary>
    /// Two parts of one file never share a disk block: a map that reuses blocks (e.g. a 2 GiB
    /// directory made of one block repeated) is a forgery that would multiply work and memory.
    /// </summary>
    private static void CheckNoSharedBlocks(ExtInode inode, ExtRun[] runs)
    {
        if (runs.Length < 2) return;
        var byDisk = (ExtRun[])runs.Clone();
        Array.Sort(byDisk, (a, b) => a.Physical.CompareTo(b.Physical));
        for (int i = 1; i < byDisk.Length; i++)
            if (byDisk[i].Physical < byDisk[i - 1].Physical + byDisk[i - 1].Count)
                throw new FileSystemCorruptException($"ext inode {inode.Number}: file blocks {byDisk[i - 1].FileBlock} and {byDisk[i].FileBlock} share disk block {byDisk[i].Physical}");
    }

    private void WalkExtents(ExtInode inode, ReadOnlySpan<byte> node, int expectedDepth, ulong minBlock, List<ExtRun> runs, ulong nodeBlock, ref int nodes)
    {
        // Index entries that all point at one subtree multiply the work without adding extents: bound the nodes too.
        if (++nodes > MaxRuns) throw new FileSystemCorruptException($"ext inode {inode.Number}: extent tree has more than {MaxRuns} nodes");
        string where = nodeBlock == 0 ? $"ext inode {inode.Number} extent tree root" : $"ext inode {inode.Number} extent block {nodeBlock}";
        if (node.Length < 12 || BinaryPrimitives.ReadUInt16LittleEndian(node) != ExtentMagic)
            throw new FileSystemCorruptException($"{where}: bad extent header magic");
        int entries = BinaryPrimitives.ReadUInt16LittleEndian(node[2..]);
        int max = BinaryPrimitives.ReadUInt16LittleEndian(node[4..]);
        int depth = BinaryPrimitives.ReadUInt16LittleEndian(node[6..]);
        if (entries > max || 12 + max * 12 > node.Length)
            throw new FileSystemCorruptException($"{where}: {entries} of {max} entries do not fit the node");
        if (depth > MaxDepth || (expectedDepth >= 0 && depth != expectedDepth))
            throw new FileSystemCorruptException($"{where}: depth {depth} is wrong (expected {(expectedDepth < 0 ? $"at most {MaxDepth}" : expectedDepth)}) — the tree loops or is damaged");
        if (nodeBlock != 0 && sb.MetadataCsum)
        {
            int tail = 12 + max * 12;
            if (tail + 4 <= node.Length)
            {
                uint crc = ExtChecksum.Crc32c(ExtChecksum.InodeSeed(sb.ChecksumSeed, inode.Number, inode.Generation), node[..tail]);
                if (crc != BinaryPrimitives.ReadUInt32LittleEndian(node[tail..])) checksums.Mismatch(where);
            }
        }
        ulong previous = minBlock;
        for (int i = 0; i < entries; i++)
        {
            var e = node.Slice(12 + i * 12, 12);
            ulong logical = BinaryPrimitives.ReadUInt32LittleEndian(e);
            if (logical < previous) throw new FileSystemCorruptException($"{where}: entry {i} starts at file block {logical}, before the previous one ({previous})");
            if (depth == 0)
            {
                int len = BinaryPrimitives.ReadUInt16LittleEndian(e[4..]);
                bool unwritten = len > 32768;
                if (unwritten) len -= 32768;
                if (len == 0) continue;
                ulong start = BinaryPrimitives.ReadUInt32LittleEndian(e[8..]) | (ulong)BinaryPrimitives.ReadUInt16LittleEndian(e[6..]) << 32;
                if (start + (ulong)len > (ulong)sb.BlockCount || start < sb.FirstDataBlock)
                    throw new FileSystemCorruptException($"{where}: extent {i} (blocks {start}+{len}) lies outside the file system");
                if (runs.Count > 0 && runs[^1].FileBlockEnd > logical)
                    throw new FileSystemCorruptException($"{where}: extent {i} overlaps the previous extent at file block {logical}");
                if (runs.Count >= MaxRuns) throw new FileSystemCorruptException($"ext inode {inode.Number}: more than {MaxRuns} extents");
                runs.Add(new ExtRun(logical, start, (uint)len, unwritten));
                previous = logical + (ulong)len;
            }
            else
            {
                ulong child = BinaryPrimitives.ReadUInt32LittleEndian(e[4..]) | (ulong)BinaryPrimitives.ReadUInt16LittleEndian(e[8..]) << 32;
                // A child's depth must be exactly one less: a pointer back up the tree (a loop) fails that test.
                var block = metadata.ReadBlock(child, $"ext inode {inode.Number} extent index {i}");
                WalkExtents(inode, block, depth - 1, logical, runs, child, ref nodes);
                previous = logical;
            }
        }
    }

    private void MapIndirect(ExtInode inode, List<ExtRun> runs)
    {
        var blocks = inode.BlockArray;
        ulong fileBlocks = (ulong)((inode.Size + sb.BlockSize - 1) >> sb.BlockLog);
        ulong perBlock = (ulong)sb.BlockSize / 4;
        for (int i = 0; i < 12; i++) Add(inode, runs, (ulong)i, BinaryPrimitives.ReadUInt32LittleEndian(blocks[(i * 4)..]), fileBlocks);
        ulong next = 12;
        for (int level = 1; level <= 3; level++)
        {
            ulong span = 1;
            for (int l = 0; l < level; l++) span *= perBlock;
            uint pointer = BinaryPrimitives.ReadUInt32LittleEndian(blocks[((11 + level) * 4)..]);
            if (pointer != 0 && next < fileBlocks) WalkIndirect(inode, runs, pointer, level, next, fileBlocks, perBlock);
            next += span;
        }
    }

    private void WalkIndirect(ExtInode inode, List<ExtRun> runs, uint pointer, int level, ulong firstFileBlock, ulong fileBlocks, ulong perBlock)
    {
        var block = metadata.ReadBlock(pointer, $"ext inode {inode.Number} indirect block (level {level})");
        ulong span = 1;
        for (int l = 1; l < level; l++) span *= perBlock;
        for (ulong i = 0; i < perBlock; i++)
        {
            ulong fileBlock = firstFileBlock + i * span;
            if (fileBlock >= fileBlocks) break;
            uint p = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan((int)(i * 4)));
            if (p == 0) continue;
            if (level == 1) Add(inode, runs, fileBlock, p, fileBlocks);
            else WalkIndirect(inode, runs, p, level - 1, fileBlock, fileBlocks, perBlock);
        }
    }

    private void Add(ExtInode inode, List<ExtRun> runs, ulong fileBlock, uint physical, ulong fileBlocks)
    {
        if (physical == 0 || fileBlock >= fileBlocks) return;
        if (physical >= (ulong)sb.BlockCount || physical < sb.FirstDataBlock)
            throw new FileSystemCorruptException($"ext inode {inode.Number}: block pointer {physical} for file block {fileBlock} lies outside the file system");
        if (runs.Count > 0 && runs[^1].FileBlockEnd == fileBlock && runs[^1].Physical + runs[^1].Count == physical && runs[^1].Count < uint.MaxValue)
        {
            runs[^1] = runs[^1] with { Count = runs[^1].Count + 1 };
            return;
        }
        if (runs.Count >= MaxRuns) throw new FileSystemCorruptException($"ext inode {inode.Number}: more than {MaxRuns} block runs");
        runs.Add(new ExtRun(fileBlock, physical, 1, false));
    }
}
