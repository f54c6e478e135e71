#!/usr/bin/env bash
# files-hash of MountChain's FAT32 and exFAT readers vs the real tools, same run, same images:
#  FAT32: mtools (mcopy -s out to a tmpfs-backed dir) + find | sort | xargs sha256sum
#  exFAT: exfat-fuse on a loop device + find | sort | xargs sha256sum
# Page cache dropped before each run when possible. Run as root (loop device, /dev/fuse).
# Usage: perf/files/bench-fat.sh [small-file-count (default 5000)]
set -euo pipefail
count=${1:-5000}
source "$(dirname "$0")/lib.sh"
bench_setup fat
export TZ=UTC MTOOLS_SKIP_CHECK=1

echo "building the tree: $count small files and one 64 MiB file..."
tree=$work/tree
small_tree "$tree" "$count" long
head -c 67108864 /dev/urandom > "$tree/large.bin"

fat=$work/fat32.img
truncate -s 200M "$fat"
mkfs.fat -F 32 -n BENCH "$fat" >/dev/null
mcopy -s -i "$fat" "$tree"/* ::/
exfat=$work/exfat.img
truncate -s 200M "$exfat"
mkfs.exfat -L Bench "$exfat" >/dev/null
loop=$(losetup -f --show "$exfat")
mount.exfat-fuse "$loop" "$mnt" >/dev/null
cp -r "$tree"/* "$mnt"/
umount "$mnt"

hashes() { cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; }

echo
echo "== FAT32 files-hash: $count small files + 64 MiB =="
drop; t_ours=$(secs mc files-hash "$fat" --partition 0)
out=$work/out; 
drop; t_ref=$(secs bash -c "rm -rf '$out' && mkdir '$out' && mcopy -s -n -i '$fat' ::/ '$out/' && cd '$out' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum")
cmp <(mc files-hash "$fat" --partition 0) <(hashes "$out") && echo "manifests equal"
echo "mountchain files-hash:                  ${t_ours}s"
echo "mtools mcopy -s + find|sort|sha256sum:  ${t_ref}s"

echo
echo "== exFAT files-hash: $count small files + 64 MiB =="
drop; t_ours=$(secs mc files-hash "$exfat" --partition 0)
mount.exfat-fuse -o ro "$loop" "$mnt" >/dev/null
drop; t_ref=$(secs bash -c "cd '$mnt' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum")
cmp <(mc files-hash "$exfat" --partition 0) <(hashes "$mnt") && echo "manifests equal"
umount "$mnt"
echo "mountchain files-hash:                    ${t_ours}s"
echo "exfat-fuse + find|sort|xargs sha256sum:   ${t_ref}s"
