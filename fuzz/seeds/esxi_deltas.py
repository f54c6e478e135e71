#!/usr/bin/env python3
"""Writes tiny vmfsSparse (COWD, format doc §4) and SESparse (§5) delta files, the two ESXi
delta kinds qemu-img cannot create, as raw files for make-corpus.sh to pack.
Usage: esxi_deltas.py cowd|sesparse OUT.bin  (prints the extent's capacity in sectors)."""
import struct, sys

CAPACITY = 8192  # 4 MiB

def cowd(grain_sectors=1):
    coverage = 4096 * grain_sectors
    gd_entries = (CAPACITY + coverage - 1) // coverage
    f = bytearray(4 * 512)
    struct.pack_into("<4sIIIIII", f, 0, b"COWD", 1, 3, CAPACITY, grain_sectors, 4, gd_entries)
    nxt = 4 + (gd_entries * 4 + 511) // 512
    f += bytes((nxt - 4) * 512)
    gt = nxt; nxt += 32
    f += bytes(32 * 512)
    struct.pack_into("<I", f, 4 * 512, gt)
    for g, fill in ((3, 0x41), (0, 0x42), (700, 0x43)):
        struct.pack_into("<I", f, gt * 512 + (g % 4096) * 4, nxt)
        f += bytes([fill]) * (grain_sectors * 512)
        nxt += grain_sectors
    struct.pack_into("<I", f, 28, nxt)
    return f

def sesparse():
    gt_coverage = 4096 * 8
    gd_entries = (CAPACITY + gt_coverage - 1) // gt_coverage
    gd_sectors = (gd_entries * 8 + 511) // 512
    volatile, jheader, journal, jsize = 1, 2, 3, 8
    gd = journal + jsize
    gtpool, gtpool_size = gd + gd_sectors, 64
    bitmap = gtpool + gtpool_size; backmap = bitmap + 1
    grainpool = backmap + 1; grains = [1, 5]; grainpool_size = len(grains) * 8
    f = bytearray((grainpool + grainpool_size) * 512)
    fields = [0xCAFEBABE, 0x0000000200000001, CAPACITY, 8, 64, 0, 0, 0, 0, 0,
              volatile, 1, jheader, 1, journal, jsize, gd, gd_sectors, gtpool, gtpool_size,
              bitmap, 1, backmap, 1, grainpool, grainpool_size]
    struct.pack_into("<%dQ" % len(fields), f, 0, *fields)
    struct.pack_into("<QQQ", f, volatile * 512, 0xCAFECAFE, 1, 7)
    struct.pack_into("<Q", f, gd * 512, 0x1000000000000000)
    for cluster, g in enumerate(reversed(grains)):
        entry = 0x3000000000000000 | ((cluster & 0xFFF) << 48) | (cluster >> 12)
        struct.pack_into("<Q", f, gtpool * 512 + g * 8, entry)
        f[(grainpool + cluster * 8) * 512:(grainpool + cluster * 8 + 8) * 512] = bytes([0x50 + g]) * 4096
    struct.pack_into("<Q", f, gtpool * 512 + 9 * 8, 0x2000000000000000)            # zeroed grain
    struct.pack_into("<Q", f, gtpool * 512 + 12 * 8, 0x1005000000000003)           # SCSI-unmapped, stale bits
    return f

kind, out = sys.argv[1], sys.argv[2]
data = cowd() if kind == "cowd" else cowd(8) if kind == "cowd8" else sesparse()
open(out, "wb").write(data)
print(CAPACITY)
