#!/usr/bin/env bash
# files-hash of MountChain's NTFS reader over a tree of many small files vs `find | sort | xargs
# sha256sum` on an ntfs-3g mount of the same image, in one run (root: ntfs-3g and /dev/fuse),
# page cache dropped before each cold run when possible.
# (Extracting a large file: perf/files/bench-extract.sh.)
# Usage: perf/files/bench-files.sh [small-file-count (default 20000)]
set -euo pipefail
count=${1:-20000}
source "$(dirname "$0")/lib.sh"
bench_setup files

echo "building an NTFS image with $count small files..."
img=$work/small.img
volume ntfs "$img" 1G
small_tree "$mnt" "$count"
umount "$mnt"

echo
echo "== files-hash: $count small files =="
drop; t_ours=$(secs mc files-hash "$img" --partition 0)
ntfs-3g -o ro "$img" "$mnt"
drop; t_ref=$(secs bash -c "cd '$mnt' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum")
umount "$mnt"
echo "mountchain files-hash:               ${t_ours}s"
echo "ntfs-3g + find|sort|xargs sha256sum: ${t_ref}s"
