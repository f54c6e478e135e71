#!/usr/bin/env bash
# mkfixture.sh - builds (or reuses) the performance fixture chain with qemu-img/qemu-io.
#
# Usage: perf/mkfixture.sh [DIR]        DIR defaults to $MOUNTCHAIN_PERF_DIR or /tmp/mountchain-perf
#   Env: PERF_SIZE (1G), PERF_DEPTH (128), PERF_SEED (1)
#
# Output: DIR/chain/base.vmdk (monolithicSparse, every grain written) and c1.vmdk .. cDEPTH.vmdk,
# each a monolithicSparse child of the previous one with 64 x 64 KiB + 4 x 1 MiB writes at
# seeded 4 KiB-aligned offsets. Opening cN.vmdk gives a chain of depth N (N children + base).
# DIR/chain/manifest.txt records the parameters; a chain whose manifest matches is reused.
# Prints the chain directory on stdout.
set -euo pipefail
dir=${1:-${MOUNTCHAIN_PERF_DIR:-/tmp/mountchain-perf}}
size=${PERF_SIZE:-1G} depth=${PERF_DEPTH:-128} seed=${PERF_SEED:-1}
out=$dir/chain
want="mountchain-perf-fixture v1 size=$size depth=$depth seed=$seed writes=64x64K,4x1M align=4K base=full"
if [ -f "$out/manifest.txt" ] && [ "$(cat "$out/manifest.txt")" = "$want" ]; then echo "$out"; exit 0; fi
for t in qemu-img qemu-io; do command -v $t >/dev/null || { echo "mkfixture: $t not found" >&2; exit 1; }; done
rm -rf "$out"; mkdir -p "$out"; cd "$out"
t0=$(date +%s)
qemu-img create -q -f vmdk -o subformat=monolithicSparse base.vmdk "$size"
vsize=$(qemu-img info --output=json base.vmdk | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p' | head -n1)
[[ $vsize =~ ^[0-9]+$ ]] || { echo "mkfixture: cannot read the virtual size" >&2; exit 1; }
# Base: every 1 MiB unit written, byte = unit index % 251 + 1 (nonzero, so every grain is allocated).
for ((o = 0; o < vsize; o += 1048576)); do echo "write -q -P $(( (o >> 20) % 251 + 1 )) $o 1048576"; done > base.cmds
qemu-io -f vmdk base.vmdk < base.cmds > /dev/null
rm base.cmds
# Children: minstd PRNG seeded per generation, so depth d is a prefix of depth D > d.
rng=1
next() { rng=$(( rng * 48271 % 2147483647 )); }
parent=base.vmdk
for ((g = 1; g <= depth; g++)); do
  rng=$(( (seed * 1000003 + g * 7919 + 12345) % 2147483647 )); (( rng > 0 )) || rng=1
  qemu-img create -q -f vmdk -o subformat=monolithicSparse -b "$parent" -F vmdk "c$g.vmdk"
  pat=$(( (g - 1) % 255 + 1 ))
  {
    for ((i = 0; i < 64; i++)); do next; a=$rng; next; echo "write -q -P $pat $(( ((a * 65536 + rng) % ((vsize - 65536) / 4096 + 1)) * 4096 )) 65536"; done
    for ((i = 0; i < 4; i++)); do next; a=$rng; next; echo "write -q -P $pat $(( ((a * 65536 + rng) % ((vsize - 1048576) / 4096 + 1)) * 4096 )) 1048576"; done
  } > w.cmds
  qemu-io -f vmdk "c$g.vmdk" < w.cmds > /dev/null
  parent=c$g.vmdk
done
rm -f w.cmds
sync
echo "$want" > manifest.txt
echo "mkfixture: built $out (depth $depth, $size) in $(( $(date +%s) - t0 )) s" >&2
echo "$out"
