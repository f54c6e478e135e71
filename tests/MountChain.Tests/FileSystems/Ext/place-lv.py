#!/usr/bin/env python3
"""Writes IMAGE into logical volume LV of DISK, at the extents lvs reported (DISK.layout from
make-lvm-disk.sh), mapping bytes as device-mapper's linear and striped targets do:
chunk c of a striped segment lies on stripe c % n, row c // n. Or, with --read, copies the LV out."""
import sys

disk, lv, image = sys.argv[1], sys.argv[2], sys.argv[3]
read = len(sys.argv) > 4 and sys.argv[4] == "--read"
lines = [l.split() for l in open(disk + ".layout")]
pe = next(l for l in lines if l[0] == "PE")
ext, pe_start = int(pe[1]), int(pe[2])
dev_start = {pe[3]: int(pe[4]), pe[5]: int(pe[6])}
row = next(l for l in lines if l[0] == "LV" and l[1] == lv)
size = int(row[2])
ranges = [r for r in row[3:] if ":" in r]
nstripes, stripe_size = int(row[3 + len(ranges)]), int(row[4 + len(ranges)])
bases = []
for r in ranges:
    dev, span = r.split(":")
    first = int(span.split("-")[0])
    bases.append(dev_start[dev] + pe_start + first * ext)

def where(offset):
    if nstripes == 1:
        return bases[0] + offset, size - offset
    chunk, within = divmod(offset, stripe_size)
    stripe, r = chunk % nstripes, chunk // nstripes
    return bases[stripe] + r * stripe_size + within, stripe_size - within

with open(disk, "r+b") as d, open(image, "rb" if not read else "wb") as f:
    offset = 0
    while offset < size:
        at, run = where(offset)
        run = min(run, size - offset, 1 << 20)
        d.seek(at)
        if read:
            f.write(d.read(run))
        else:
            data = f.read(run)
            if not data:
                break
            d.write(data)
            run = len(data)
        offset += run
