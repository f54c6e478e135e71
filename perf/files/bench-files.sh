#!/usr/bin/env bash
# File-level benchmarks of MountChain's NTFS reader (run as root: needs ntfs-3g and /dev/fuse).
#  1. files-hash over a tree of many small files vs `find | sort | xargs sha256sum` on an
#     ntfs-3g mount of the same image (page cache dropped before each cold run when possible).
#  2. extract of a 1 GiB file vs a raw sequential read of the same number of bytes of the image.
# Usage: perf/files/bench-files.sh [small-file-count (default 20000)]
set -euo pipefail
count=${1:-20000}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mc-bench-files.XXXXXX)
mnt=$work/mnt
trap 'mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"' EXIT
mkdir -p "$mnt"

dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
mc() { dotnet "$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll" "$@"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}'; }

echo "building NTFS images: $count small files (small.img) and one 1 GiB file (large.img)..."
img=$work/small.img
truncate -s 1G "$img"
mkntfs -F -Q -L Small "$img" >/dev/null 2>&1
ntfs-3g "$img" "$mnt"
( cd "$mnt"
  for d in $(seq 1 $((count / 500 + 1))); do mkdir -p "d$d"; done
  for i in $(seq 1 "$count"); do head -c $((i % 7000 + 100)) /dev/urandom > "d$((i / 500 + 1))/f$i"; done )
umount "$mnt"
large=$work/large.img
truncate -s 1100M "$large"
mkntfs -F -Q -L Large "$large" >/dev/null 2>&1
ntfs-3g "$large" "$mnt"
head -c 1073741824 /dev/urandom > "$mnt/gig.bin"
umount "$mnt"

echo
echo "== files-hash: $count small files =="
drop; t_ours=$(secs mc files-hash "$img" --partition 0)
ntfs-3g -o ro "$img" "$mnt"
drop; t_ref=$(secs bash -c "cd '$mnt' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum")
umount "$mnt"
echo "mountchain files-hash:               ${t_ours}s"
echo "ntfs-3g + find|sort|xargs sha256sum: ${t_ref}s"

echo
echo "== extract of a 1 GiB file =="
out=$work/out; mkdir -p "$out"
drop; t_extract=$(secs mc extract "$large" p0:/gig.bin "$out")
cmp <(mc cat-file "$large" p0:/gig.bin | sha256sum) <(sha256sum < "$out/gig.bin") >/dev/null && echo "extracted content verified"
drop; t_cat=$(secs bash -c "dotnet \"$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll\" cat-file \"$large\" p0:/gig.bin > /dev/null")
drop; t_raw=$(secs dd if="$large" of=/dev/null bs=1M count=1024 status=none)
echo "mountchain extract 1 GiB:  ${t_extract}s ($(awk -v t="$t_extract" 'BEGIN{printf "%.0f", 1024/t}') MiB/s)"
echo "mountchain cat-file 1 GiB to /dev/null: ${t_cat}s ($(awk -v t="$t_cat" 'BEGIN{printf "%.0f", 1024/t}') MiB/s)"
echo "raw sequential read 1 GiB: ${t_raw}s ($(awk -v t="$t_raw" 'BEGIN{printf "%.0f", 1024/t}') MiB/s)"
