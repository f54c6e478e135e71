#!/usr/bin/env bash
# ext4 file-level benchmarks, ours vs the kernel, in one run (root: loop mounts).
#  1. files-hash of an ext4 volume with N small files (default 5000) vs the kernel's ext4 driver
#     through a loop mount + `find | sort | xargs sha256sum` (page cache dropped before each run).
#  2. extract of a 1 GiB file vs a raw sequential read (dd) of the same number of bytes of the image.
# Both images are raw ext4 made by mkfs.ext4 and populated through the kernel.
# Usage: perf/files/bench-ext4.sh [small-file-count]
set -euo pipefail
count=${1:-5000}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mc-bench-ext4.XXXXXX)
mnt=$work/mnt
trap 'mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"' EXIT
mkdir -p "$mnt"
dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
mc() { dotnet "$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll" "$@"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}'; }

img=$work/small.img
truncate -s 512M "$img"; mkfs.ext4 -q -F "$img"
mount -o loop "$img" "$mnt"
( cd "$mnt"; for d in $(seq 1 $((count / 500 + 1))); do mkdir -p "d$d"; done
  for i in $(seq 1 "$count"); do head -c $((i % 7000 + 100)) /dev/urandom > "d$((i / 500 + 1))/f$i"; done )
umount "$mnt"
large=$work/large.img
truncate -s 1200M "$large"; mkfs.ext4 -q -F "$large"
mount -o loop "$large" "$mnt"; head -c 1073741824 /dev/urandom > "$mnt/gig.bin"; umount "$mnt"

drop; t_ours=$(secs mc files-hash "$img" --partition 0)
drop; t_ref=$(secs bash -c "mount -o loop,ro '$img' '$mnt' && cd '$mnt' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; cd /; umount '$mnt'")
out=$work/out; mkdir -p "$out"
drop; t_extract=$(secs mc extract "$large" p0:/gig.bin "$out")
drop; t_raw=$(secs dd if="$large" of=/dev/null bs=1M count=1024 status=none)
printf '%-52s %8s\n' "measure" "seconds"
printf '%-52s %8s\n' "mountchain files-hash ($count files)" "$t_ours"
printf '%-52s %8s\n' "kernel loop mount + find|sort|xargs sha256sum" "$t_ref"
printf '%-52s %8s\n' "mountchain extract 1 GiB file" "$t_extract"
printf '%-52s %8s\n' "dd raw sequential read 1 GiB" "$t_raw"
awk -v a="$t_ref" -v b="$t_ours" -v c="$t_raw" -v d="$t_extract" 'BEGIN{printf "files-hash speed-up vs kernel: %.2fx (target >= 2x)\nextract throughput vs raw read: %.0f%% (target >= 80%%)\n", a/b, 100*c/d}'
