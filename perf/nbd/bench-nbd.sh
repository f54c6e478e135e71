#!/usr/bin/env bash
# End-to-end NBD read throughput: `mountchain serve` against `qemu-nbd` on the same disk, in one run.
# Builds a raw image of random data and a two-link VMDK chain holding the same kind of data, warms
# the page cache, serves each with both servers (read-only) and times `nbdcopy URI null:` (libnbd's
# copier: 4 connections when the server allows multi-conn, 64 requests in flight). Best of RUNS.
#
# usage: perf/nbd/bench-nbd.sh [SIZE_MIB=1024] [RUNS=3]
# needs: dotnet (.NET 10 SDK), qemu-utils (qemu-img, qemu-nbd, qemu-io), libnbd-bin (nbdcopy, nbdinfo)
set -euo pipefail
size_mib=${1:-1024}
runs=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mountchain-bench-nbd.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -f "$work/qemu.pid" ]; then kill -TERM "$(cat "$work/qemu.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in dotnet qemu-img qemu-nbd qemu-io nbdcopy nbdinfo; do
  command -v "$tool" >/dev/null || { echo "bench-nbd: $tool not found" >&2; exit 1; }
done

echo "building mountchain (Release)..." >&2
dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
mc_dll="$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll"

echo "creating a ${size_mib} MiB raw image and a 2-link VMDK chain in $work..." >&2
head -c "${size_mib}M" /dev/urandom > "$work/disk.raw"
qemu-img convert -f raw -O vmdk "$work/disk.raw" "$work/base.vmdk"
qemu-img create -q -f vmdk -b "$work/base.vmdk" -F vmdk "$work/snap.vmdk"
# The snapshot overwrites every fourth 1 MiB of the disk, so reads alternate between the links.
cmds=()
for ((m = 0; m < size_mib; m += 4)); do cmds+=(-c "write -P $((m % 251)) ${m}M 1M"); done
qemu-io -f vmdk "${cmds[@]}" "$work/snap.vmdk" >/dev/null
cat "$work"/*.raw "$work"/*.vmdk > /dev/null   # page cache

port_for() { echo $((20000 + RANDOM % 20000)); }
calc() { awk "BEGIN { print $1 }"; }
less_than() { awk "BEGIN { exit !($1 < $2) }"; }

# start_mountchain FILE -> sets mc_uri
start_mountchain() {
  local out="$work/mc.out"
  dotnet "$mc_dll" serve "$1" --listen "127.0.0.1:0" > "$out" 2> "$work/mc.err" &
  pids+=($!)
  for _ in $(seq 1 200); do [ -s "$out" ] && break; sleep 0.05; done
  mc_uri=$(awk '{print $NF}' "$out")
  [ -n "$mc_uri" ] || { echo "bench-nbd: mountchain serve did not start: $(cat "$work/mc.err")" >&2; exit 1; }
}

stop_servers() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  if [ -f "$work/qemu.pid" ]; then kill -TERM "$(cat "$work/qemu.pid")" 2>/dev/null || true; rm -f "$work/qemu.pid"; fi
  sleep 0.2
}

# start_qemu FILE FORMAT -> sets qemu_uri (--shared so nbdcopy's extra connections are served too)
start_qemu() {
  local port; port=$(port_for)
  qemu-nbd --fork --pid-file="$work/qemu.pid" -r -t --shared=16 -f "$2" -b 127.0.0.1 -p "$port" "$1"
  qemu_uri="nbd://127.0.0.1:$port"
}

# best_seconds URI -> prints the fastest of $runs nbdcopy runs
best_seconds() {
  local best=""
  for _ in $(seq 1 "$runs"); do
    local t0 t1 s
    t0=$(date +%s.%N); nbdcopy "$1" null:; t1=$(date +%s.%N)
    s=$(calc "$t1 - $t0")
    if [ -z "$best" ] || less_than "$s" "$best"; then best=$s; fi
  done
  echo "$best"
}

bytes=$((size_mib * 1024 * 1024))
printf "%-12s %-10s %10s %10s\n" "disk" "server" "seconds" "GB/s"
report() { printf "%-12s %-10s %10.3f %10.2f\n" "$1" "$2" "$3" "$(calc "$bytes / $3 / 1000000000")"; }

for case in raw vmdk; do
  if [ "$case" = raw ]; then file="$work/disk.raw"; fmt=raw; else file="$work/snap.vmdk"; fmt=vmdk; fi
  start_mountchain "$file"
  start_qemu "$file" "$fmt"
  nbdcopy "$mc_uri" null:; nbdcopy "$qemu_uri" null:    # warm-up (JIT, caches)
  # Interleave the two servers so background load hits both alike.
  mc_best=""; qemu_best=""
  for _ in $(seq 1 "$runs"); do
    s=$(runs=1 best_seconds "$mc_uri");   if [ -z "$mc_best" ] || less_than "$s" "$mc_best"; then mc_best=$s; fi
    s=$(runs=1 best_seconds "$qemu_uri"); if [ -z "$qemu_best" ] || less_than "$s" "$qemu_best"; then qemu_best=$s; fi
  done
  report "$case" mountchain "$mc_best"
  report "$case" qemu-nbd "$qemu_best"
  printf "%-12s %-10s %21s\n" "$case" "ratio" "$(printf '%.2fx' "$(calc "$qemu_best / $mc_best")") (mountchain speed / qemu-nbd speed)"
  stop_servers
done
