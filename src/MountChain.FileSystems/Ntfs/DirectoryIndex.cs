using System.Buffers.Binary;
using System.Text;
using MountChain.FileSystems.Common;

namespace MountChain.FileSystems.Ntfs;

/// <summary>A $I30 index key: the file a name points to, and the name with its namespace.</summary>
internal readonly record struct IndexedName(long Record, ushort Sequence, string Name, byte Namespace);

/// <summary>
/// Walks a directory's $I30 B+ tree ($INDEX_ROOT, then INDX blocks of $INDEX_ALLOCATION) in key
/// order. Each INDX block gets its fix-ups checked; a block reached twice (a loop), a tree deeper
/// than <see cref="MaxDepth"/> or an entry outside its node ends the walk with an error.
/// </summary>
internal sealed class DirectoryIndex
{
    private const int MaxDepth = 64;
    private const string IndexName = "$I30";

    private readonly NtfsFile _directory;
    private readonly AttributeReader _reader;
    private readonly int _clusterSize;
    private readonly string _what;

    public DirectoryIndex(NtfsFile directory, AttributeReader reader, int clusterSize)
    {
        _directory = directory;
        _reader = reader;
        _clusterSize = clusterSize;
        _what = $"NTFS directory (MFT record {directory.Number}) index";
    }

    /// <summary>Calls <paramref name="visit"/> for each entry in key order; stops early when it returns false.</summary>
    public void Walk(Func<IndexedName, bool> visit)
    {
        var root = _directory.Find(AttributeType.IndexRoot, IndexName)
            ?? throw new FileSystemCorruptException($"{_what}: directory has no $INDEX_ROOT");
        var value = root.ResidentValue ?? throw new FileSystemCorruptException($"{_what}: $INDEX_ROOT is not resident");
        if (value.Length < IndexLayout.RootNodeHeader + IndexLayout.NodeHeaderSize)
            throw new FileSystemCorruptException($"{_what}: $INDEX_ROOT is truncated");
        int blockSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(IndexLayout.RootIndexBlockSize));
        var allocation = _directory.Find(AttributeType.IndexAllocation, IndexName);
        var state = new WalkState(blockSize, allocation, visit);
        WalkNode(value, IndexLayout.RootNodeHeader, 0, state, "$INDEX_ROOT");
    }

    private sealed class WalkState(int blockSize, NtfsAttribute? allocation, Func<IndexedName, bool> visit)
    {
        public int BlockSize { get; } = blockSize;
        public NtfsAttribute? Allocation { get; } = allocation;
        public Func<IndexedName, bool> Visit { get; } = visit;
        public HashSet<long> Visited { get; } = [];
        public bool Stopped { get; set; }
    }

    private void WalkNode(byte[] block, int headerOffset, int depth, WalkState state, string node)
    {
        var span = block.AsSpan();
        int entries = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(headerOffset + IndexLayout.NodeEntriesOffset)..]);
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(headerOffset + IndexLayout.NodeIndexLength)..]);
        long start = (long)headerOffset + entries, end = (long)headerOffset + length;
        if (entries < IndexLayout.NodeHeaderSize || start > end || end > block.Length)
            throw new FileSystemCorruptException($"{_what}: {node} node header is inconsistent (entries at 0x{entries:x}, length {length})");
        int off = (int)start;
        while (!state.Stopped)
        {
            if (off + IndexLayout.EntryKey > end)
                throw new FileSystemCorruptException($"{_what}: {node} entries run past the node (no last entry)");
            int entryLength = BinaryPrimitives.ReadUInt16LittleEndian(span[(off + IndexLayout.EntryLength)..]);
            int keyLength = BinaryPrimitives.ReadUInt16LittleEndian(span[(off + IndexLayout.EntryKeyLength)..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(off + IndexLayout.EntryFlags)..]);
            if (entryLength < IndexLayout.EntryKey || off + entryLength > end || IndexLayout.EntryKey + keyLength > entryLength)
                throw new FileSystemCorruptException($"{_what}: {node} entry at 0x{off:x} has invalid length {entryLength}");
            if ((flags & IndexLayout.EntryHasSubNode) != 0)
            {
                if (entryLength < IndexLayout.EntryKey + 8)
                    throw new FileSystemCorruptException($"{_what}: {node} entry at 0x{off:x} is too short for a sub-node pointer");
                long vcn = BinaryPrimitives.ReadInt64LittleEndian(span[(off + entryLength - 8)..]);
                WalkChild(vcn, depth + 1, state);
                if (state.Stopped) return;
            }
            if ((flags & IndexLayout.EntryIsLast) != 0) return;
            if (keyLength < FileNameLayout.Name)
                throw new FileSystemCorruptException($"{_what}: {node} entry at 0x{off:x} has a {keyLength}-byte key, too short for a file name");
            var key = span.Slice(off + IndexLayout.EntryKey, keyLength);
            int nameLength = key[FileNameLayout.NameLength];
            if (FileNameLayout.Name + nameLength * 2 > keyLength)
                throw new FileSystemCorruptException($"{_what}: {node} entry at 0x{off:x}: name overruns its key");
            ulong reference = BinaryPrimitives.ReadUInt64LittleEndian(span[(off + IndexLayout.EntryReference)..]);
            var name = new IndexedName(
                (long)(reference & 0x0000FFFFFFFFFFFF), (ushort)(reference >> 48),
                Encoding.Unicode.GetString(key.Slice(FileNameLayout.Name, nameLength * 2)), key[FileNameLayout.Namespace]);
            if (!state.Visit(name)) { state.Stopped = true; return; }
            off += entryLength;
        }
    }

    private void WalkChild(long vcn, int depth, WalkState state)
    {
        if (depth > MaxDepth)
            throw new FileSystemCorruptException($"{_what}: B-tree deeper than {MaxDepth} levels");
        if (!state.Visited.Add(vcn))
            throw new FileSystemCorruptException($"{_what}: INDX block at VCN {vcn} is reached twice (the tree loops)");
        var allocation = state.Allocation
            ?? throw new FileSystemCorruptException($"{_what}: entry points to a sub-node but there is no $INDEX_ALLOCATION");
        int blockSize = state.BlockSize;
        if (blockSize < 512 || blockSize > 65536 || blockSize % 512 != 0)
            throw new FileSystemCorruptException($"{_what}: index block size {blockSize} is invalid");
        // layout.h INDEX_ALLOCATION: VCNs count clusters, or 512-byte units when blocks are smaller than a cluster.
        long unit = blockSize >= _clusterSize ? _clusterSize : 512;
        if (vcn < 0 || vcn > allocation.Length / unit)
            throw new FileSystemCorruptException($"{_what}: sub-node VCN {vcn} lies outside $INDEX_ALLOCATION");
        long offset = vcn * unit;
        var block = new byte[blockSize];
        int n = _reader.Read(allocation, block, offset, _what);
        if (n != blockSize)
            throw new FileSystemCorruptException($"{_what}: INDX block at VCN {vcn} is truncated");
        string node = $"INDX block at VCN {vcn}";
        if (BinaryPrimitives.ReadUInt32LittleEndian(block) != IndexLayout.MagicIndx)
            throw new FileSystemCorruptException($"{_what}: {node} lacks the \"INDX\" signature");
        UpdateSequence.Apply(block, $"{_what} {node}");
        if (BinaryPrimitives.ReadInt64LittleEndian(block.AsSpan(IndexLayout.BlockVcn)) != vcn)
            throw new FileSystemCorruptException($"{_what}: {node} records a different VCN");
        WalkNode(block, IndexLayout.BlockNodeHeader, depth, state, node);
    }
}
