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
# ~0.3 s is in both extract and raw), or MOUNTCHAIN=/path/to/native/mountchain. BASELINE=BIN adds
# the extract of another build (an earlier commit) in the same rounds, for before/after numbers.
# The runs are rounds over all columns (a loaded machine's drift hits every column alike); each
# column reports its best round.
# Usage: [MOUNTCHAIN=BIN] [BASELINE=BIN] perf/files/bench-extract.sh [runs (default 2)] [file systems (default "ext4 ntfs xfs")]
set -euo pipefail
runs=${1:-2}
kinds=${2:-"ext4 ntfs xfs"}
source "$(dirname "$0")/lib.sh"
bench_setup extract
declare -A best_t
measure() { # measure NAME CMD...: one timing of CMD, page cache dropped before; NAME keeps its lowest
  drop; local t; t=$(secs "${@:2}")
  best_t[$1]=$(awk -v a="${best_t[$1]:-}" -v t="$t" 'BEGIN{print (a == "" || t < a) ? t : a}')
}
mib() { awk -v bytes="$1" -v t="$2" 'BEGIN{printf "%.0f", bytes / 1048576 / t}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100 * a / b}'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); mountchain: ${MOUNTCHAIN:-dotnet $mcdll}${BASELINE:+; baseline: $BASELINE}"
header=("fs" "extract MiB/s" "raw MiB/s" "dd MiB/s" "dd copy MiB/s" "extract/raw" "extract/ddcopy")
format='%-6s %14s %14s %14s %14s %12s %14s'
if [ -n "${BASELINE:-}" ]; then header+=("baseline MiB/s" "baseline/raw"); format+=' %14s %12s'; fi
# shellcheck disable=SC2059
printf "$format\n" "${header[@]}"
for kind in $kinds; do
  img=$work/$kind.raw
  volume "$kind" "$img" 1200M
  head -c 1073741824 /dev/urandom > "$mnt/gig.bin"
  umount "$mnt"
  qemu-img convert -O vmdk "$img" "$work/$kind.vmdk"
  disk_bytes=$(stat -c %s "$img")
  out=$work/out-$kind
  extract_once() { rm -rf "$out"; mc extract "$work/$kind.vmdk" p0:/gig.bin "$out"; }
  baseline_once() { rm -rf "$out"; "$BASELINE" extract "$work/$kind.vmdk" p0:/gig.bin "$out"; }
  copy_once() { rm -f "$work/copy"; dd if="$img" of="$work/copy" bs=4M count=256 status=none; }
  best_t=()
  for round in $(seq 1 "$runs"); do
    measure extract extract_once
    if [ "$round" = 1 ]; then cmp -s "$out/gig.bin" <(mc cat-file "$img" p0:/gig.bin) || { echo "$kind: extracted content differs" >&2; exit 1; }; fi
    if [ -n "${BASELINE:-}" ]; then measure baseline baseline_once; fi
    rm -rf "$out"
    measure raw mc cat "$work/$kind.vmdk"
    measure dd dd if="$img" of=/dev/null bs=1M status=none
    measure copy copy_once
    rm -f "$work/copy"
  done
  e=$(mib 1073741824 "${best_t[extract]}"); r=$(mib "$disk_bytes" "${best_t[raw]}"); d=$(mib "$disk_bytes" "${best_t[dd]}"); c=$(mib 1073741824 "${best_t[copy]}")
  row=("$kind" "$e" "$r" "$d" "$c" "$(pct "$e" "$r")" "$(pct "$e" "$c")")
  if [ -n "${BASELINE:-}" ]; then b=$(mib 1073741824 "${best_t[baseline]}"); row+=("$b" "$(pct "$b" "$r")"); fi
  # shellcheck disable=SC2059
  printf "$format\n" "${row[@]}"
  rm -f "$img" "$work/$kind.vmdk"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
