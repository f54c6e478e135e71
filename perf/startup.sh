#!/usr/bin/env bash
# perf/startup.sh - whole-process start-up of the native mountchain binary against the peer tools,
# in one run (issue 12's targets). Fixture: perf/mkfixture.sh with depth 64 (1 GiB full base,
# 64 fragmented children).
#
#   perf/startup.sh                       # builds the native binary (scripts/install.sh into a temp PREFIX)
#   MOUNTCHAIN=/usr/local/bin/mountchain perf/startup.sh [-n RUNS]
#
# Each row runs ours and the peer alternately RUNS times (default 7) and reports, per side, the
# fastest wall time and the median CPU time (user+sys, /usr/bin/time); CPU time is the robust
# number on a loaded machine. Rows:
#   info depth 64     `mountchain info c64.vmdk`      vs `qemu-io -r -c 'read 0 512' c64.vmdk`   target <= 0.4x
#   info one link     `mountchain info --single-link base.vmdk` vs `vmdkinfo base.vmdk`            target <= 3x
#   cat depth 64      `mountchain cat c64.vmdk > /dev/null` vs `qemu-img convert -O raw c64.vmdk null-co://`  target >= 8x faster
#   mount ready       `mountchain mount c64.vmdk MP` (returns when usable) vs `vmdkmount c64.vmdk MP`   target <= 2x
#   peak RSS of `info` depth 64 (max resident set, /usr/bin/time %M)                              target <= 24 MB
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=7
while getopts n: o; do case $o in n) runs=$OPTARG ;; *) exit 2 ;; esac; done
for t in qemu-io qemu-img vmdkinfo vmdkmount python3; do command -v $t >/dev/null || { echo "startup: $t not found (scripts/install-deps.sh)" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "startup: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
mp1=$work/mp-ours mp2=$work/mp-vmdkmount
mkdir -p "$mp1" "$mp2"
cleanup() {
  "${mc:-true}" unmount "$mp1" >/dev/null 2>&1 || true
  umount "$mp2" 2>/dev/null || fusermount3 -u "$mp2" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mc=${MOUNTCHAIN:-}
if [ -z "$mc" ]; then
  PREFIX=$work/prefix "$root/scripts/install.sh" >&2
  mc=$work/prefix/bin/mountchain
fi
chain=$(PERF_DEPTH=64 "$root/perf/mkfixture.sh")
top=$chain/c64.vmdk base=$chain/base.vmdk
cat "$chain"/*.vmdk > /dev/null  # page cache warm for both sides

# sample CMD...: one run; appends "wall_ms cpu_ms rss_kb" to $work/samples
sample() {
  local t0 t1
  t0=$EPOCHREALTIME
  /usr/bin/time -f "%U %S %M" -o "$work/t" "$@" > /dev/null 2>"$work/err" || { echo "startup: failed: $* ($(tail -1 "$work/err"))" >&2; exit 1; }
  t1=$EPOCHREALTIME
  read -r u s m < <(tail -1 "$work/t")
  python3 -c "print(f'{($t1-$t0)*1000:.1f} {($u+$s)*1000:.0f} $m')"
}
# stats FILE: "min_wall median_cpu max_rss"
stats() { python3 - "$1" <<'PY'
import sys, statistics
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(f"{min(r[0] for r in rows):.1f} {statistics.median(r[1] for r in rows):.0f} {max(r[2] for r in rows)/1024:.1f}")
PY
}
# row NAME TARGET OURS_CMD -- PEER_CMD : alternates the two RUNS times
row() {
  local name=$1 target=$2; shift 2
  local ours=() peer=()
  while [ "$1" != -- ]; do ours+=("$1"); shift; done; shift; peer=("$@")
  : > "$work/a"; : > "$work/b"
  for ((i = 0; i < runs; i++)); do sample "${ours[@]}" >> "$work/a"; sample "${peer[@]}" >> "$work/b"; done
  read -r aw ac ar < <(stats "$work/a"); read -r bw bc br < <(stats "$work/b")
  python3 -c "print(f'| $name | {$aw:.1f} ms ({$ac} ms CPU) | {$bw:.1f} ms ({$bc} ms CPU) | {$aw/$bw:.2f}x ({$ac/max($bc,1):.2f}x CPU) | $target |')"
  echo "$ar" > "$work/rss-ours"
}

# mount ready: the command returns once the mount is usable; unmount outside the timing.
mount_ours() { "$mc" mount "$top" "$mp1" && [ -e "$mp1/disk.raw" ]; }
mount_peer() { vmdkmount "$top" "$mp2" > /dev/null && [ -e "$mp2/vmdk1" ]; }
export -f mount_ours mount_peer 2>/dev/null || true
cat > "$work/mount-ours" <<SH
#!/bin/sh
"$mc" mount "$top" "$mp1" && test -e "$mp1/disk.raw"
SH
cat > "$work/mount-peer" <<SH
#!/bin/sh
vmdkmount "$top" "$mp2" > /dev/null && test -e "$mp2/vmdk1"
SH
cat > "$work/cat-ours" <<SH
#!/bin/sh
exec "$mc" cat "$top" > /dev/null
SH
chmod +x "$work"/mount-* "$work/cat-ours"

echo "mountchain: $mc ($(du -h "$mc" | cut -f1)); chain: $top; $runs runs per side; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| whole process, 1 GiB chain | mountchain | peer | ratio (wall / CPU) | target |"
echo "|---|---|---|---|---|"
row "info depth 64 vs qemu-io open + read 512 B" "<= 0.4x" "$mc" info "$top" -- qemu-io -r -f vmdk -c 'read 0 512' "$top"
rss_info=$(cat "$work/rss-ours")
row "info of one link vs vmdkinfo" "<= 3x" "$mc" info --single-link "$base" -- vmdkinfo "$base"
row "cat depth 64 > /dev/null vs qemu-img convert to null-co" ">= 8x faster (ratio <= 0.125)" "$work/cat-ours" -- qemu-img convert -n -O raw "$top" null-co://
: > "$work/a"; : > "$work/b"
for ((i = 0; i < runs; i++)); do
  sample "$work/mount-ours" >> "$work/a"; "$mc" unmount "$mp1" > /dev/null
  sample "$work/mount-peer" >> "$work/b"; umount "$mp2" 2>/dev/null || fusermount3 -u "$mp2"
done
read -r aw ac ar < <(stats "$work/a"); read -r bw bc br < <(stats "$work/b")
python3 -c "print(f'| mount depth 64 ready vs vmdkmount ready | {$aw:.1f} ms ({$ac} ms CPU) | {$bw:.1f} ms ({$bc} ms CPU) | {$aw/$bw:.2f}x ({$ac/max($bc,1):.2f}x CPU) | <= 2x |')"
echo "| peak RSS of info depth 64 | $rss_info MB | | | <= 24 MB |"
