#!/usr/bin/env bash
# The shared extract path, per file system, ours vs a raw sequential read of the same generation,
# in one run (root: loop mounts for ext4/XFS, ntfs-3g for NTFS).
# For each of ext4, NTFS and XFS: a 1.2 GiB volume holding one 1 GiB file (random bytes, written by
# the kernel or ntfs-3g), converted to a monolithicSparse VMDK with qemu-img. Measured, page cache
# dropped before each run (best of N runs each, the machine may be shared):
#   extract: `mountchain extract vm.vmdk p0:/gig.bin DIR`         (read + write the file)
#   raw:     `mountchain cat vm.vmdk > /dev/null`                  (sequential read of the whole generation)
#   dd:      `dd if=volume.raw of=/dev/null bs=1M`                 (the kernel reading the flat image)
#   dd copy: `dd if=volume.raw of=DIR/copy bs=4M count=256`        (the kernel reading and writing 1 GiB
#            into the same target directory: the floor any extract has, since it must write the file)
# and extract throughput as a percentage of the raw read of the same generation (target >= 80 %) and
# of the kernel's copy.
# Usage: perf/files/bench-extract.sh [runs (default 2)] [file systems (default "ext4 ntfs xfs")]
set -euo pipefail
runs=${1:-2}
kinds=${2:-"ext4 ntfs xfs"}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mc-bench-extract.XXXXXX)
mnt=$work/mnt
trap 'mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"' EXIT
mkdir -p "$mnt"
dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
mc() { dotnet "$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll" "$@"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}'; }
best() { # best (lowest) of $runs timings of "$@", page cache dropped before each
  local b=""; for _ in $(seq 1 "$runs"); do drop; local t; t=$(secs "$@"); b=$(awk -v a="$b" -v t="$t" 'BEGIN{print (a == "" || t < a) ? t : a}'); done; echo "$b"
}
mib() { awk -v bytes="$1" -v t="$2" 'BEGIN{printf "%.0f", bytes / 1048576 / t}'; }

printf '%-6s %14s %14s %14s %14s %12s %14s\n' "fs" "extract MiB/s" "raw MiB/s" "dd MiB/s" "dd copy MiB/s" "extract/raw" "extract/ddcopy"
for kind in $kinds; do
  img=$work/$kind.raw
  truncate -s 1200M "$img"
  case $kind in
    ext4) mkfs.ext4 -q -F "$img"; mount -o loop "$img" "$mnt" ;;
    xfs)  mkfs.xfs -q -f "$img"; mount -o loop "$img" "$mnt" ;;
    ntfs) mkntfs -F -Q "$img" >/dev/null 2>&1; ntfs-3g "$img" "$mnt" ;;
  esac
  head -c 1073741824 /dev/urandom > "$mnt/gig.bin"
  umount "$mnt"
  qemu-img convert -O vmdk "$img" "$work/$kind.vmdk"
  disk_bytes=$(stat -c %s "$img")
  out=$work/out-$kind
  extract_once() { rm -rf "$out"; mc extract "$work/$kind.vmdk" p0:/gig.bin "$out"; }
  t_extract=$(best extract_once)
  cmp -s "$out/gig.bin" <(mc cat-file "$img" p0:/gig.bin) || { echo "$kind: extracted content differs" >&2; exit 1; }
  rm -rf "$out"
  t_raw=$(best bash -c "dotnet '$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll' cat '$work/$kind.vmdk' > /dev/null")
  t_dd=$(best dd if="$img" of=/dev/null bs=1M status=none)
  copy_once() { rm -f "$work/copy"; dd if="$img" of="$work/copy" bs=4M count=256 status=none; }
  t_copy=$(best copy_once); rm -f "$work/copy"
  e=$(mib 1073741824 "$t_extract"); r=$(mib "$disk_bytes" "$t_raw"); d=$(mib "$disk_bytes" "$t_dd"); c=$(mib 1073741824 "$t_copy")
  pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100 * a / b}'; }
  printf '%-6s %14s %14s %14s %14s %12s %14s\n' "$kind" "$e" "$r" "$d" "$c" "$(pct "$e" "$r")" "$(pct "$e" "$c")"
  rm -f "$img" "$work/$kind.vmdk"
done
