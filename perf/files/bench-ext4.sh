#!/usr/bin/env bash
# files-hash of an ext4 volume with N small files (default 5000), ours vs the kernel's ext4 driver
# through a loop mount + `find | sort | xargs sha256sum`, in one run (root: loop mounts), page
# cache dropped before each run. The image is made by mkfs.ext4 and populated through the kernel.
# (Extracting a large file: perf/files/bench-extract.sh.)
# Usage: perf/files/bench-ext4.sh [small-file-count]
set -euo pipefail
count=${1:-5000}
source "$(dirname "$0")/lib.sh"
bench_setup ext4

img=$work/small.img
volume ext4 "$img" 512M
small_tree "$mnt" "$count"
umount "$mnt"

drop; t_ours=$(secs mc files-hash "$img" --partition 0)
drop; t_ref=$(secs bash -c "mount -o loop,ro '$img' '$mnt' && cd '$mnt' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; cd /; umount '$mnt'")
printf '%-52s %8s\n' "measure" "seconds"
printf '%-52s %8s\n' "mountchain files-hash ($count files)" "$t_ours"
printf '%-52s %8s\n' "kernel loop mount + find|sort|xargs sha256sum" "$t_ref"
awk -v a="$t_ref" -v b="$t_ours" 'BEGIN{printf "files-hash speed-up vs kernel: %.2fx (target >= 2x)\n", a/b}'
