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
#            into the same target directory through user space)
# and extract throughput as a percentage of the raw read of the same generation (target >= 80 %) and
# of the kernel's copy. None of them waits for the written file to reach the disk (as cp does not).
# Every column runs the same mountchain: the JIT build (dotnet mountchain.dll, whose start-up of
# ~0.3 s is in both extract and raw), or MOUNTCHAIN=/path/to/native/mountchain.
# Usage: [MOUNTCHAIN=BIN] perf/files/bench-extract.sh [runs (default 2)] [file systems (default "ext4 ntfs xfs")]
set -euo pipefail
runs=${1:-2}
kinds=${2:-"ext4 ntfs xfs"}
source "$(dirname "$0")/lib.sh"
bench_setup extract
best() { # best (lowest) of $runs timings of "$@", page cache dropped before each
  local b=""; for _ in $(seq 1 "$runs"); do drop; local t; t=$(secs "$@"); b=$(awk -v a="$b" -v t="$t" 'BEGIN{print (a == "" || t < a) ? t : a}'); done; echo "$b"
}
mib() { awk -v bytes="$1" -v t="$2" 'BEGIN{printf "%.0f", bytes / 1048576 / t}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100 * a / b}'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); mountchain: ${MOUNTCHAIN:-dotnet $mcdll}"
printf '%-6s %14s %14s %14s %14s %12s %14s\n' "fs" "extract MiB/s" "raw MiB/s" "dd MiB/s" "dd copy MiB/s" "extract/raw" "extract/ddcopy"
for kind in $kinds; do
  img=$work/$kind.raw
  volume "$kind" "$img" 1200M
  head -c 1073741824 /dev/urandom > "$mnt/gig.bin"
  umount "$mnt"
  qemu-img convert -O vmdk "$img" "$work/$kind.vmdk"
  disk_bytes=$(stat -c %s "$img")
  out=$work/out-$kind
  extract_once() { rm -rf "$out"; mc extract "$work/$kind.vmdk" p0:/gig.bin "$out"; }
  t_extract=$(best extract_once)
  cmp -s "$out/gig.bin" <(mc cat-file "$img" p0:/gig.bin) || { echo "$kind: extracted content differs" >&2; exit 1; }
  rm -rf "$out"
  t_raw=$(best mc cat "$work/$kind.vmdk")
  t_dd=$(best dd if="$img" of=/dev/null bs=1M status=none)
  copy_once() { rm -f "$work/copy"; dd if="$img" of="$work/copy" bs=4M count=256 status=none; }
  t_copy=$(best copy_once); rm -f "$work/copy"
  e=$(mib 1073741824 "$t_extract"); r=$(mib "$disk_bytes" "$t_raw"); d=$(mib "$disk_bytes" "$t_dd"); c=$(mib 1073741824 "$t_copy")
  printf '%-6s %14s %14s %14s %14s %12s %14s\n' "$kind" "$e" "$r" "$d" "$c" "$(pct "$e" "$r")" "$(pct "$e" "$c")"
  rm -f "$img" "$work/$kind.vmdk"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
