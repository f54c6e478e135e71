#!/usr/bin/env bash
# bench-esxi.sh - reads of ESXi chains (VMFS flat base + COWD or SESparse deltas) by mountchain and
# by qemu-img, in one run: the read targets of issue "Read any generation" for the ESXi formats.
#
# Usage: perf/esxi/bench-esxi.sh [-s SIZE_MIB] [-d "1 32"] [-n RANDOM_READS] [-q QEMU_RANDOM_READS] [-B]
#   -s  virtual disk size in MiB (flat base fully written)                   [512]
#   -d  chain depths (each delta writes 8 MiB in random 4 KiB writes)         [1 32]
#   -n  random 4 KiB reads for mountchain bench (2 threads)                   [1000000]
#   -q  random 4 KiB reads for qemu-img bench                                 [20000]
#   -B  do not build: use $MOUNTCHAIN (a mountchain binary) as is
# Env: MOUNTCHAIN_PERF_DIR (fixtures + build, default /tmp/mountchain-perf-esxi).
# Needs: dotnet, qemu-img, python3, bc, /usr/bin/time. Fixtures come from perf/esxi/mkesxi.py
# (qemu cannot make COWD or SESparse; it reads both, so it is the peer on the same files).
#
# Columns (page cache warm for both):
#   seq GB/s   whole process over the disk: `mountchain cat cN.vmdk > /dev/null` vs
#              `qemu-img convert -n -m 16 -W -f vmdk -O raw cN.vmdk null-co://`.
#   inproc     `mountchain bench --mode sequential` (1 MiB reads, open excluded).
#   IOPS       `mountchain bench --mode random --threads 2` (uniform random 4 KiB) vs
#              `qemu-img bench -d 1 -s 4096 -S 409612288` (strided, one request in flight).
#   d/d1       random IOPS at this depth / at the first depth (flatness in depth).
set -euo pipefail
size=512 depths="1 32" nours=1000000 nqemu=20000 build=1
while getopts "s:d:n:q:B" o; do
  case $o in s) size=$OPTARG;; d) depths=$OPTARG;; n) nours=$OPTARG;; q) nqemu=$OPTARG;; B) build=0;; *) sed -n '2,12p' "$0"; exit 2;; esac
done
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$(dirname "$here")")
dir=${MOUNTCHAIN_PERF_DIR:-/tmp/mountchain-perf-esxi}
for t in qemu-img python3 bc; do command -v $t >/dev/null || { echo "bench-esxi: $t not found" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "bench-esxi: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
mkdir -p "$dir"
if [ $build = 1 ]; then
  echo "bench-esxi: publishing mountchain (Release, ReadyToRun) to $dir/bin" >&2
  dotnet publish "$repo/src/MountChain.Cli" -c Release -r linux-x64 --self-contained false -p:PublishAot=false -p:PublishReadyToRun=true \
    -p:UseSharedCompilation=false -o "$dir/bin" -v quiet -nologo >&2
  MOUNTCHAIN=$dir/bin/mountchain
fi
mc=${MOUNTCHAIN:?set MOUNTCHAIN with -B}
maxdepth=0; for d in $depths; do (( d > maxdepth )) && maxdepth=$d; done
results=$dir/results.tsv; : > "$results"
wall() { # label, command... -> "label<TAB>seconds" (stdout to /dev/null)
  local label=$1; shift
  /usr/bin/time -f "%e" -o "$dir/time.out" "$@" > /dev/null
  printf '%s\t%s\n' "$label" "$(cat "$dir/time.out")" >> "$results"
}
for kind in cowd sesparse; do
  chain=$dir/$kind-$size-$maxdepth
  if [ ! -f "$chain/c$maxdepth.vmdk" ]; then
    echo "bench-esxi: writing the $kind fixture ($size MiB, depth $maxdepth) to $chain" >&2
    rm -rf "$chain"; python3 "$here/mkesxi.py" "$chain" "$kind" "$size" "$maxdepth"
  fi
  cat "$chain"/*.vmdk > /dev/null
  for d in $depths; do
    f=$chain/c$d.vmdk
    echo "bench-esxi: $kind depth $d" >&2
    wall "cat $kind $d" "$mc" cat "$f"
    wall "qemu $kind $d" qemu-img convert -n -m 16 -W -f vmdk -O raw "$f" null-co://
    "$mc" bench "$f" --mode sequential --json > "$dir/seq-$kind-$d.json"
    "$mc" bench "$f" --mode random --count "$nours" --threads 2 --json > "$dir/rnd-$kind-$d.json"
    qemu-img bench -f vmdk -c "$nqemu" -d 1 -s 4096 -S 409612288 "$f" > "$dir/qb-$kind-$d.txt"
  done
done
python3 - "$dir" "$depths" "$nqemu" "$size" <<'PY'
import json, re, sys
d, depths, nq, size = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4])
rows = dict(l.rstrip("\n").split("\t") for l in open(f"{d}/results.tsv"))
G = size * 2**20 / 1e9
print(f"{'chain':>14} | {'cat GB/s':>8} {'qemu GB/s':>9} {'ratio':>6} {'inproc GB/s':>11} | {'IOPS ours':>10} {'IOPS qemu':>9} {'ratio':>6} {'d/d1':>5}")
for kind in ("cowd", "sesparse"):
    first = None
    for dep in depths:
        cat, q = float(rows[f"cat {kind} {dep}"]), float(rows[f"qemu {kind} {dep}"])
        seq = json.load(open(f"{d}/seq-{kind}-{dep}.json")); rnd = json.load(open(f"{d}/rnd-{kind}-{dep}.json"))
        qt = float(re.search(r"completed in ([0-9.]+) seconds", open(f"{d}/qb-{kind}-{dep}.txt").read()).group(1))
        first = first or rnd["iops"]
        print(f"{kind + ' d' + dep:>14} | {G / cat:8.2f} {G / q:9.2f} {q / cat:5.1f}x {seq['gigabytesPerSecond']:11.2f} | "
              f"{rnd['iops']:10.0f} {nq / qt:9.0f} {rnd['iops'] * qt / nq:5.0f}x {rnd['iops'] / first:5.2f}")
print(f"{size} MiB disk, VMFS flat base fully written, each delta 8 MiB of random 4 KiB writes; whole-process wall time for cat/qemu")
PY
