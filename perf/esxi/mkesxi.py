#!/usr/bin/env python3
"""mkesxi.py DIR KIND SIZE_MIB DEPTH [PER_CHILD_MIB]

Writes an ESXi-style chain into DIR (format doc §4, §5, §6.1): a VMFS flat base (`base.vmdk` +
`base-flat.vmdk`, random bytes) and DEPTH deltas `c1.vmdk` … `cDEPTH.vmdk` of KIND `cowd`
(vmfsSparse, 512-byte grains, `cK-delta.vmdk`) or `sesparse` (4 KiB grains, `cK-sesparse.vmdk`).
Each delta writes PER_CHILD_MIB (default 8) in 4 KiB guest writes at random 4 KiB-aligned offsets,
allocated in write order as ESXi does (tables on demand, grains after them). qemu reads both kinds,
so `qemu-img convert` of the same descriptor is the peer. Deterministic (seeded)."""
import os, random, struct, sys

def descriptor(create_type, cid, parent_cid, hint, sectors, extent_type, extent_file):
    s = "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n"
    s += f"CID={cid:08x}\nparentCID={parent_cid:08x}\nisNativeSnapshot=\"no\"\ncreateType=\"{create_type}\"\n"
    if hint: s += f"parentFileNameHint=\"{hint}\"\n"
    s += f"\n# Extent description\nRW {sectors} {extent_type} \"{extent_file}\"\n\n# The Disk Data Base\n#DDB\n\n"
    s += f"ddb.adapterType = \"lsilogic\"\nddb.longContentID = \"0123456789abcdef01234567{cid:08x}\"\n"
    return s

def writes(rng, sectors, per_child_bytes):
    """Distinct random 4 KiB-aligned sector offsets, in write order."""
    slots = sectors // 8
    return [s * 8 for s in rng.sample(range(slots), per_child_bytes // 4096)]

def cowd(path, sectors, offsets, rng):
    gd_entries = (sectors + 4095) // 4096
    nxt = 4 + (gd_entries * 4 + 511) // 512
    gd = [0] * gd_entries
    tables = {}
    with open(path, "wb") as f:
        for off in offsets:                      # 8 one-sector grains per 4 KiB write
            t = off // 4096
            if t not in tables:
                tables[t] = [0] * 4096
                gd[t] = nxt
                nxt += 32
            table = tables[t]
            for i in range(8):
                table[(off + i) % 4096] = nxt + i
            f.seek(nxt * 512); f.write(rng.randbytes(4096))
            nxt += 8
        for t, table in tables.items():
            f.seek(gd[t] * 512); f.write(struct.pack(f"<{len(table)}I", *table))
        f.seek(4 * 512); f.write(struct.pack(f"<{gd_entries}I", *gd))
        head = bytearray(2048)
        head[0:4] = b"COWD"
        struct.pack_into("<7I", head, 4, 1, 3, sectors, 1, 4, gd_entries, nxt)
        f.seek(0); f.write(head)
        f.truncate(nxt * 512)

def sesparse(path, sectors, offsets, rng):
    gd_entries = (sectors + 4096 * 8 - 1) // (4096 * 8)
    used = list(dict.fromkeys(o // (4096 * 8) for o in offsets))   # tables in allocation order
    pool = {t: i for i, t in enumerate(used)}
    gd_sectors = (gd_entries * 8 + 511) // 512
    volatile, jhead, journal, jsize = 1, 2, 3, 8
    gd_at = journal + jsize
    gt_at, gt_size = gd_at + gd_sectors, max(1, len(used)) * 64
    bitmap = gt_at + gt_size; backmap = bitmap + 1; grains_at = backmap + 1; grains_size = max(1, len(offsets)) * 8
    tables = {t: [0] * 4096 for t in used}
    with open(path, "wb") as f:
        for c, off in enumerate(offsets):         # cluster c in write order
            g = off // 8
            tables[off // (4096 * 8)][g % 4096] = 0x3000000000000000 | ((c & 0xFFF) << 48) | (c >> 12)
            f.seek((grains_at + c * 8) * 512); f.write(rng.randbytes(4096))
        for t, table in tables.items():
            f.seek((gt_at + pool[t] * 64) * 512); f.write(struct.pack("<4096Q", *table))
        gd = [0] * gd_entries
        for t, i in pool.items(): gd[t] = 0x1000000000000000 | i
        f.seek(gd_at * 512); f.write(struct.pack(f"<{gd_entries}Q", *gd))
        fields = [0xCAFEBABE, 0x0000000200000001, sectors, 8, 64, 0, 0, 0, 0, 0, volatile, 1, jhead, 1, journal, jsize,
                  gd_at, gd_sectors, gt_at, gt_size, bitmap, 1, backmap, 1, grains_at, grains_size]
        f.seek(0); f.write(struct.pack("<26Q", *fields).ljust(512, b"\0"))
        f.seek(volatile * 512); f.write(struct.pack("<3Q", 0xCAFECAFE, len(used), 1).ljust(512, b"\0"))
        f.truncate((grains_at + grains_size) * 512)

def main():
    d, kind, size_mib, depth = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    per_child = int(sys.argv[5]) * 2**20 if len(sys.argv) > 5 else 8 * 2**20
    os.makedirs(d, exist_ok=True)
    sectors = size_mib * 2048
    rng = random.Random(42)
    with open(os.path.join(d, "base-flat.vmdk"), "wb") as f:
        for _ in range(size_mib): f.write(rng.randbytes(2**20))
    open(os.path.join(d, "base.vmdk"), "w").write(descriptor("vmfs", 0x10000000, 0xFFFFFFFF, None, sectors, "VMFS", "base-flat.vmdk"))
    parent = "base.vmdk"
    for k in range(1, depth + 1):
        offs = writes(rng, sectors, per_child)
        if kind == "cowd":
            cowd(os.path.join(d, f"c{k}-delta.vmdk"), sectors, offs, rng)
            text = descriptor("vmfsSparse", 0x10000000 + k, 0x10000000 + k - 1, parent, sectors, "VMFSSPARSE", f"c{k}-delta.vmdk")
        else:
            sesparse(os.path.join(d, f"c{k}-sesparse.vmdk"), sectors, offs, rng)
            text = descriptor("seSparse", 0x10000000 + k, 0x10000000 + k - 1, parent, sectors, "SESPARSE", f"c{k}-sesparse.vmdk")
        open(os.path.join(d, f"c{k}.vmdk"), "w").write(text)
        parent = f"c{k}.vmdk"

main()
