#!/usr/bin/env python3
"""Reads or rewrites the VG metadata text of an LVM2 PV inside a disk image, as lvm2 lays it out
(lib/format_text/layout.h): the label sector, the pv_header's metadata area list, the mda_header
and its raw_locn[0]. A rewritten text is placed at the start of the area's circular buffer with
valid checksums (lvm2's calc_crc: CRC-32 from seed 0xf597a6cf, no final inversion).
Usage: lvm-mda.py DISK PV_BYTE_OFFSET --show
       lvm-mda.py DISK PV_BYTE_OFFSET --sub PATTERN REPLACEMENT   (Python re.sub on the text)"""
import re, struct, sys, zlib

SEED = 0xF597A6CF

def crc(data):
    return (~zlib.crc32(data, ~SEED & 0xFFFFFFFF)) & 0xFFFFFFFF

disk, pv = sys.argv[1], int(sys.argv[2])
with open(disk, "r+b") as d:
    d.seek(pv)
    head = d.read(2048)
    label = next(s for s in range(4) if head[s * 512:s * 512 + 8] == b"LABELONE")
    sector = head[label * 512:label * 512 + 512]
    pos = struct.unpack_from("<I", sector, 20)[0] + 40
    while struct.unpack_from("<QQ", sector, pos) != (0, 0):  # data areas
        pos += 16
    pos += 16
    mda_start, mda_size = struct.unpack_from("<QQ", sector, pos)
    d.seek(pv + mda_start)
    mda = bytearray(d.read(512))
    offset, size, _, _ = struct.unpack_from("<QQII", mda, 40)
    d.seek(pv + mda_start + offset)
    text = d.read(size).rstrip(b"\0").decode()
    if sys.argv[3] == "--show":
        print(text)
        sys.exit(0)
    new = re.sub(sys.argv[4], sys.argv[5], text).encode() + b"\0"
    assert new != text.encode() + b"\0", "the pattern did not match"
    d.seek(pv + mda_start + 512)
    d.write(new)
    struct.pack_into("<QQII", mda, 40, 512, len(new), crc(new), 0)
    struct.pack_into("<I", mda, 0, crc(bytes(mda[4:512])))
    d.seek(pv + mda_start)
    d.write(mda)
