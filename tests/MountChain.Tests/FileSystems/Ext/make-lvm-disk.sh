#!/usr/bin/env bash
# Builds a GPT disk image: p1 ext4 (40 MiB), p2 and p3 LVM2 PVs of VG vg0 with LVs root (linear,
# on p2), data (striped over p2 and p3, 64 KiB stripes), swap, and a snapshot "snap" of root added
# through vgcfgbackup/vgcfgrestore (this kernel has no device-mapper, so nothing is activated: the
# lvm2 tools only write the labels and metadata).
# Writes DISK.layout for place-lv.py: what lvs and pvs report about the LVs' extents.
# Usage: make-lvm-disk.sh DISK
set -euo pipefail
disk=$1
export LVM_SUPPRESS_FD_WARNINGS=1
truncate -s 300M "$disk"
sfdisk -q "$disk" <<'PARTS' >/dev/null
label: gpt
start=2048, size=40M, type=L
size=120M, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
size=120M, type=E6D6D379-F507-44C2-A23C-238F2A3DF928
PARTS
read -r s2 z2 s3 z3 < <(sfdisk -J "$disk" | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"]; print(p[1]["start"]*512, p[1]["size"]*512, p[2]["start"]*512, p[2]["size"]*512)')
a=$(losetup -f --show -o "$s2" --sizelimit "$z2" "$disk")
b=$(losetup -f --show -o "$s3" --sizelimit "$z3" "$disk")
cleanup() { losetup -d "$a" "$b" 2>/dev/null || true; }
trap cleanup EXIT
cf="devices{filter=[\"a|$a|\",\"a|$b|\",\"r|.*|\"] use_devicesfile=0} global{locking_type=0 use_lvmetad=0} backup{backup=0 archive=0}"
l() { "$@" --driverloaded n --config "$cf" 2>&1 | grep -v -e WARNING -e 'not zeroed' >&2 || true; }
vgname=vg0
l pvcreate -q -y -ff "$a" "$b"
l vgcreate -q "$vgname" "$a" "$b"
l lvcreate -an -Zn -y -q -L 40M -n root "$vgname" "$a"
l lvcreate -an -Zn -y -q -i2 -I64k -L 40M -n data "$vgname"
l lvcreate -an -Zn -y -q -L 8M -n swap "$vgname" "$b"
l lvcreate -an -Zn -y -q -L 8M -n snap "$vgname" "$b"
# Turn "snap" into a snapshot of root: the COW store plus the snapshot0 LV that ties them, as lvcreate -s writes it.
tmp=$(mktemp)
vgcfgbackup --driverloaded n --config "$cf" -q -f "$tmp" "$vgname" 2>/dev/null
python3 - "$tmp" <<'PY'
import sys, re
p = sys.argv[1]; t = open(p).read()
snap0 = '''
		snapshot0 {
			id = "S0S0S0-S0S0-S0S0-S0S0-S0S0-S0S0-S0S0S0"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1

			segment1 {
				start_extent = 0
				extent_count = 10
				type = "snapshot"
				chunk_size = 8
				origin = "root"
				cow_store = "snap"
			}
		}
'''
i = t.rindex("\t}\n\n}")        # end of logical_volumes
t = t[:i] + snap0 + t[i:]
t = re.sub(r'(\n\t\tsnap \{\n\t\t\tid = "[^"]*"\n\t\t\tstatus = \[)"READ", "WRITE", "VISIBLE"', r'\1"READ", "WRITE"', t)
open(p, "w").write(t)
PY
l vgcfgrestore -q -f "$tmp" "$vgname"
rm -f "$tmp"
ext=$(lvm lvs --driverloaded n --config "$cf" --noheadings --units b --nosuffix -o vg_extent_size "$vgname/root" 2>/dev/null | head -1 | tr -d ' ')
pe_start=$(lvm pvs --driverloaded n --config "$cf" --noheadings --units b --nosuffix -o pe_start "$a" 2>/dev/null | tr -d ' ')
for lv in root data swap; do
  lvm lvs --driverloaded n --config "$cf" --noheadings --units b --nosuffix -o lv_name,lv_size,seg_pe_ranges,stripes,stripe_size "$vgname/$lv" 2>/dev/null
done | while read -r name size ranges rest; do
  echo "LV $name $size $ranges $rest"
done > "$disk.layout"
echo "PE $ext $pe_start $a $s2 $b $s3" >> "$disk.layout"
