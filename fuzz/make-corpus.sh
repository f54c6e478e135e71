#!/usr/bin/env bash
# Regenerates the seed corpus fuzz/corpus/TARGET/ from small real files: qemu-img/qemu-io VMDKs,
# mkfs-made NTFS/XFS/ext4/FAT/exFAT volumes, sfdisk tables, an LVM2 disk (root: loop devices),
# hand-built COWD/SESparse deltas (seeds/esxi_deltas.py) and descriptor/.vmx/.vmsd/NBD texts.
# Images are packed into the fuzz inputs' sparse-sector form (MountChain.Fuzz pack). The result is
# committed; run this only to refresh it (needs scripts/install-deps.sh's packages).
# Usage: fuzz/make-corpus.sh [FUZZ_DLL]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
dll=${1:-$here/MountChain.Fuzz/bin/Release/net10.0/MountChain.Fuzz.dll}
[ -f "$dll" ] || dotnet build "$here/MountChain.Fuzz" -c Release -v q -nologo >/dev/null
corpus=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pack() { dotnet "$dll" pack "$1" "$2"; }
seed() { mkdir -p "$corpus/$1"; cp "$2" "$corpus/$1/$3"; }
packseed() { mkdir -p "$corpus/$1"; pack "$2" "$corpus/$1/$3"; }
cd "$work"

# Hosted sparse: a base with a few written grains, a child of it, twoGbMaxExtentSparse's extent.
qemu-img create -q -f vmdk base.vmdk 4M
qemu-io -f vmdk -c 'write -P 0x41 0 4k' -c 'write -P 0x42 1M 512' -c 'write -z 2M 64k' base.vmdk >/dev/null
qemu-img create -q -f vmdk -b base.vmdk -F vmdk child.vmdk
qemu-io -f vmdk -c 'write -P 0x43 64k 4k' child.vmdk >/dev/null
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 4M
qemu-io -f vmdk -c 'write -P 0x44 8k 4k' split.vmdk >/dev/null
packseed sparse base.vmdk base
packseed sparse child.vmdk child
packseed sparse split-s001.vmdk split-extent
# streamOptimized: qemu's layout, zlib grains.
qemu-img convert -q -f vmdk -O vmdk -o subformat=streamOptimized base.vmdk stream.vmdk
packseed stream stream.vmdk qemu-stream
qemu-img create -q -f vmdk -o subformat=streamOptimized empty-stream.vmdk 1M
packseed stream empty-stream.vmdk qemu-empty

# Descriptor texts: embedded, child, split, flat, ESXi.
python3 - base.vmdk child.vmdk > desc-embedded.txt <<'PY'
import sys, struct
for p in sys.argv[1:2]:
    d = open(p, 'rb').read(); off, size = struct.unpack_from('<QQ', d, 28)
    sys.stdout.write(d[off*512:(off+size)*512].rstrip(b'\0').decode())
PY
seed descriptor desc-embedded.txt embedded
python3 - child.vmdk > desc-child.txt <<'PY'
import sys, struct
d = open(sys.argv[1], 'rb').read(); off, size = struct.unpack_from('<QQ', d, 28)
sys.stdout.write(d[off*512:(off+size)*512].rstrip(b'\0').decode())
PY
seed descriptor desc-child.txt child
seed descriptor split.vmdk split
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentFlat flat2g.vmdk 1M
seed descriptor flat2g.vmdk flat
cat > esxi.txt <<'D'
# Disk DescriptorFile
version=1
encoding="UTF-8"
CID=fffffffe
parentCID=ffffffff
isNativeSnapshot="no"
createType="vmfs"

# Extent description
RW 2048 VMFS "vm-flat.vmdk"

# The Disk Data Base
#DDB

ddb.adapterType = "lsilogic"
ddb.geometry.cylinders = "1"
ddb.geometry.heads = "255"
ddb.geometry.sectors = "63"
ddb.longContentID = "0123456789abcdef0123456789abcdef"
ddb.uuid = "60 00 C2 90 38 f6 55 c2-c3 dd e6 80 96 81 12 d8"
ddb.virtualHWVersion = "14"
D
seed descriptor esxi.txt esxi

# Flat/ZERO layouts over the harness's flat-a.bin (64 KiB) and flat-b.bin (1 MiB).
mkdir -p "$corpus/flat"
printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 128 FLAT "flat-a.bin" 0\n' > "$corpus/flat/one-flat"
printf '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\n\nRW 64 FLAT "flat-a.bin" 64\nRDONLY 1024 FLAT "flat-b.bin" 1024\nRW 4096 ZERO\nRW 16 FLAT "flat-a.bin"\n' > "$corpus/flat/mixed"
printf '# Disk DescriptorFile\r\nversion=1\r\nCID=fffffffe\r\nparentCID=ffffffff\r\ncreateType="vmfs"\r\n\r\nRW 2048 VMFS "flat-b.bin"\r\n' > "$corpus/flat/vmfs-crlf"

# ESXi deltas (qemu cannot make them): u64 capacity, then the packed delta file.
for kind in cowd cowd8 sesparse; do
  sectors=$(python3 "$here/seeds/esxi_deltas.py" "$kind" "$kind.bin")
  pack "$kind.bin" "$kind.packed"
  target=${kind%8}
  mkdir -p "$corpus/$target"
  { python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<Q', $sectors))"; cat "$kind.packed"; } > "$corpus/$target/$kind"
done

# Partition tables: GPT with three partitions, MBR with an extended partition and logicals.
truncate -s 64M gpt.img
sfdisk -q gpt.img >/dev/null <<'P'
label: gpt
start=2048, size=8M, type=L, name="one"
size=8M, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
size=16M, type=L
P
packseed partitions gpt.img gpt
truncate -s 64M mbr.img
sfdisk -q mbr.img >/dev/null <<'P'
label: dos
mbr.img1 : start=2048, size=8M, type=83
mbr.img2 : start=18432, size=40M, type=5
mbr.img5 : start=20480, size=8M, type=7
mbr.img6 : start=40960, size=8M, type=83
P
mkfs.fat -F 16 --offset=2048 mbr.img 8192 >/dev/null 2>&1 || true
packseed partitions mbr.img mbr

# File systems, populated where that needs no mount.
mkdir -p tree/dir/sub; echo hello > tree/a.txt; seq 1 3000 > tree/dir/numbers; ln -s a.txt tree/link
for i in $(seq 1 40); do echo "$i" > "tree/dir/sub/file-$i"; done
truncate -s 8M ext4.img; mkfs.ext4 -q -F -d tree -b 1024 ext4.img; packseed ext4 ext4.img ext4-1k
truncate -s 8M ext2.img; mkfs.ext2 -q -F -d tree ext2.img; packseed ext4 ext2.img ext2
truncate -s 4M fat12.img; mkfs.fat -F 12 fat12.img >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i fat12.img tree/a.txt tree/dir ::/; packseed fat fat12.img fat12
truncate -s 40M fat32.img; mkfs.fat -F 32 fat32.img >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i fat32.img tree/a.txt tree/dir ::/; packseed fat fat32.img fat32
truncate -s 8M exfat.img; mkfs.exfat -L fuzz exfat.img >/dev/null; packseed exfat exfat.img exfat-empty
truncate -s 8M ntfs.img; mkntfs -q -F -f -L fuzz ntfs.img >/dev/null 2>&1
ntfscp -q ntfs.img tree/a.txt a.txt 2>/dev/null || true
ntfscp -q ntfs.img tree/dir/numbers numbers 2>/dev/null || true
# $LogFile is 0xFF-filled and never read by us: zero it so the seed stays small.
python3 - ntfs.img <<'PY'
import struct, sys
p = sys.argv[1]; d = bytearray(open(p, 'rb').read())
bps = struct.unpack_from('<H', d, 11)[0]; cluster = bps * d[13]
rec_at = struct.unpack_from('<Q', d, 48)[0] * cluster + 2 * 1024
rec = d[rec_at:rec_at + 1024]
at = struct.unpack_from('<H', rec, 20)[0]
while at + 16 < len(rec):
    typ, length = struct.unpack_from('<II', rec, at)
    if typ == 0xFFFFFFFF or length == 0: break
    if typ == 0x80 and rec[at + 8] == 1:
        pos = at + struct.unpack_from('<H', rec, at + 32)[0]; lcn = 0
        while rec[pos]:
            lb, ob = rec[pos] & 15, rec[pos] >> 4
            n = int.from_bytes(rec[pos + 1:pos + 1 + lb], 'little')
            lcn += int.from_bytes(rec[pos + 1 + lb:pos + 1 + lb + ob], 'little', signed=True)
            d[lcn * cluster:(lcn + n) * cluster] = bytes(n * cluster); pos += 1 + lb + ob
    at += length
open(p, 'wb').write(d)
PY
packseed ntfs ntfs.img ntfs-small
# XFS: v5 and v4 from a protofile (mkfs -p populates without mounting); the log is dropped from the seed.
printf 'fuzz\n0 0\nd--755 0 0\na.txt ---644 0 0 %s\nlink l--777 0 0 a.txt\ndir d--755 0 0\nnumbers ---644 0 0 %s\n$\n$\n' "$work/tree/a.txt" "$work/tree/dir/numbers" > proto
truncate -s 300M xfs5.img; mkfs.xfs -q -f -p proto xfs5.img
truncate -s 300M xfs4.img; mkfs.xfs -q -f -m crc=0 -n ftype=0 -p proto xfs4.img 2>/dev/null
for v in 5 4; do
  read -r logstart logblocks bs < <(xfs_db -r -c 'sb 0' -c 'p logstart logblocks blocksize' xfs$v.img | awk '{print $3}' | tr '\n' ' ') || true
  agblocks=$(xfs_db -r -c 'sb 0' -c 'p agblocks' xfs$v.img | awk '{print $3}')
  agblklog=$(xfs_db -r -c 'sb 0' -c 'p agblklog' xfs$v.img | awk '{print $3}')
  ag=$((logstart >> agblklog)); blk=$((logstart & ((1 << agblklog) - 1)))
  dd if=/dev/zero of=xfs$v.img bs="$bs" seek=$((ag * agblocks + blk)) count="$logblocks" conv=notrunc status=none
  packseed xfs xfs$v.img xfs-v$v
done

# LVM2 (needs root for loop devices): the test suite's disk builder.
if [ "$(id -u)" -eq 0 ] && command -v pvcreate >/dev/null; then
  bash "$root/tests/MountChain.Tests/FileSystems/Ext/make-lvm-disk.sh" lvm.img
  packseed lvm lvm.img gpt-lvm
  packseed partitions lvm.img gpt-lvm
fi

# Single NTFS structures, cut out of the volume above.
mkdir -p "$corpus/ntfs-record" "$corpus/ntfs-runlist" "$corpus/ntfs-lznt1"
python3 - ntfs.img "$corpus" <<'PY'
import struct, sys
img, out = sys.argv[1], sys.argv[2]
d = open(img, 'rb').read()
bps = struct.unpack_from('<H', d, 11)[0]; spc = d[13]; cluster = bps * spc
mft = struct.unpack_from('<Q', d, 48)[0] * cluster
for n in (0, 5, 6, 24, 25, 26):
    rec = d[mft + n * 1024: mft + n * 1024 + 1024]
    if rec[:4] == b'FILE': open(f'{out}/ntfs-record/record-{n}', 'wb').write(rec)
# Runlists of the non-resident attributes of those records (fix-ups do not touch them here).
k = 0
for n in range(0, 16):
    rec = d[mft + n * 1024: mft + n * 1024 + 1024]
    if rec[:4] != b'FILE': continue
    at = struct.unpack_from('<H', rec, 20)[0]
    while at + 16 < len(rec):
        typ, length = struct.unpack_from('<II', rec, at)
        if typ == 0xFFFFFFFF or length == 0: break
        if rec[at + 8] == 1:
            runs = struct.unpack_from('<H', rec, at + 32)[0]
            open(f'{out}/ntfs-runlist/runs-{k}', 'wb').write(bytes([0]) + rec[at + runs: at + length]); k += 1
        at += length
# LZNT1: one uncompressed chunk; one compressed chunk: literals 'abc', then a back-reference (offset 3, length 9).
open(f'{out}/ntfs-lznt1/raw-chunk', 'wb').write(struct.pack('<H', 0x3000 | 15) + b'0123456789abcdef')
open(f'{out}/ntfs-lznt1/backref', 'wb').write(bytes.fromhex('05b0086162630620') + bytes(2))
PY

# VM config files.
mkdir -p "$corpus/vmx" "$corpus/vmsd"
printf '.encoding = "UTF-8"\nconfig.version = "8"\nvirtualHW.version = "19"\ndisplayName = "fuzz vm"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "vm-000002.vmdk"\nscsi0:1.present = "TRUE"\nscsi0:1.fileName = "/vmfs/volumes/ds1/vm/data.vmdk"\nsata0:0.present = "TRUE"\nsata0:0.deviceType = "cdrom-image"\nsata0:0.fileName = "x.iso"\n' > "$corpus/vmx/two-disks"
printf '.encoding = "UTF-8"\nsnapshot.lastUID = "2"\nsnapshot.current = "2"\nsnapshot.numSnapshots = "2"\nsnapshot0.uid = "1"\nsnapshot0.filename = "vm-Snapshot1.vmsn"\nsnapshot0.displayName = "before upgrade"\nsnapshot0.description = "a\\|0Ab"\nsnapshot0.createTimeHigh = "398256"\nsnapshot0.createTimeLow = "-1254565888"\nsnapshot0.numDisks = "1"\nsnapshot0.disk0.fileName = "vm.vmdk"\nsnapshot0.disk0.node = "scsi0:0"\nsnapshot1.uid = "2"\nsnapshot1.parent = "1"\nsnapshot1.displayName = "after"\nsnapshot1.numDisks = "1"\nsnapshot1.disk0.fileName = "vm-000001.vmdk"\nsnapshot1.disk0.node = "scsi0:0"\nsnapshot.mru0.uid = "2"\n' > "$corpus/vmsd/two-snapshots"

# NBD: a handshake that lists, asks for info and goes; transmission requests (read, block status, write, trim, flush, disconnect).
python3 - "$corpus" <<'PY'
import struct, sys, os
out = sys.argv[1]
os.makedirs(f'{out}/nbd-handshake', exist_ok=True); os.makedirs(f'{out}/nbd-transmission', exist_ok=True)
M = 0x49484156454F5054
def opt(o, data=b''): return struct.pack('>QII', M, o, len(data)) + data
def metaq(*qs): return struct.pack('>II', 0, len(qs)) + b''.join(struct.pack('>I', len(q)) + q for q in qs)
hs = struct.pack('>I', 3) + opt(3) + opt(8) + opt(9, metaq(b'base:')) + opt(10, metaq(b'base:allocation', b'mountchain:generation')) + opt(6, struct.pack('>IH', 0, 1) + struct.pack('>H', 3)) + opt(7, struct.pack('>IH', 0, 0))
open(f'{out}/nbd-handshake/list-info-go', 'wb').write(hs)
open(f'{out}/nbd-handshake/export-name', 'wb').write(struct.pack('>I', 1) + opt(1, b''))
open(f'{out}/nbd-handshake/abort', 'wb').write(struct.pack('>I', 1) + opt(2))
def req(typ, off, length, flags=0, handle=1, payload=b''): return struct.pack('>IHHQQI', 0x25609513, flags, typ, handle, off, length) + payload
tx = req(0, 0, 4096) + req(7, 0, 1 << 20) + req(1, 4096, 512, payload=b'\x55' * 512) + req(6, 8192, 4096) + req(4, 0, 65536) + req(3, 0, 0) + req(0, 1 << 19, 65536, flags=4) + req(2, 0, 0)
open(f'{out}/nbd-transmission/mixed', 'wb').write(tx)
open(f'{out}/nbd-transmission/read-past-end', 'wb').write(req(0, (1 << 20) - 100, 4096) + req(2, 0, 0))
PY
du -sh "$corpus"; find "$corpus" -type f | wc -l
