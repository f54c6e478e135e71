#!/usr/bin/env bash
# NBD read throughput against the number of connections (issue: it must scale up to the cores):
# `mountchain serve` and `qemu-nbd --shared` on the same 2-link VMDK chain (page cache warm),
# `nbdcopy --connections=N URI null:` for N = 1, 2, 4, interleaved, best of RUNS each.
# Prints GB/s and each N's speed-up over one connection, for both servers, and the core count.
# usage: perf/nbd/connections.sh [SIZE_MIB=512] [RUNS=3]
# needs: dotnet (.NET 10 SDK), qemu-utils, libnbd-bin (nbdcopy)
set -euo pipefail
size_mib=${1:-512}
runs=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/mountchain-nbd-conn.XXXXXX)
mc_pid=""
cleanup() {
  [ -n "$mc_pid" ] && { kill -TERM "$mc_pid" 2>/dev/null || true; wait "$mc_pid" 2>/dev/null || true; }
  [ -f "$work/qemu.pid" ] && kill -TERM "$(cat "$work/qemu.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${MOUNTCHAIN_DLL:-}" ] || dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
mc_dll=${MOUNTCHAIN_DLL:-"$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll"}

head -c "${size_mib}M" /dev/urandom > "$work/disk.raw"
qemu-img convert -f raw -O vmdk "$work/disk.raw" "$work/base.vmdk"
rm -f "$work/disk.raw"
qemu-img create -q -f vmdk -b "$work/base.vmdk" -F vmdk "$work/snap.vmdk"
cmds=()
for ((m = 0; m < size_mib; m += 4)); do cmds+=(-c "write -P $((m % 251)) ${m}M 1M"); done
qemu-io -f vmdk "${cmds[@]}" "$work/snap.vmdk" >/dev/null
cat "$work"/*.vmdk > /dev/null

dotnet "$mc_dll" serve "$work/snap.vmdk" --listen "127.0.0.1:0" > "$work/mc.out" 2> "$work/mc.err" &
mc_pid=$!
for _ in $(seq 1 200); do [ -s "$work/mc.out" ] && break; sleep 0.05; done
mc_uri=$(awk '{print $NF}' "$work/mc.out")
[ -n "$mc_uri" ] || { echo "connections: mountchain serve did not start: $(cat "$work/mc.err")" >&2; exit 1; }
port=$((20000 + RANDOM % 20000))
qemu-nbd --fork --pid-file="$work/qemu.pid" -r -t --shared=16 -f vmdk -b 127.0.0.1 -p "$port" "$work/snap.vmdk"
qemu_uri="nbd://127.0.0.1:$port"
nbdcopy "$mc_uri" null:; nbdcopy "$qemu_uri" null:   # warm-up

secs() { local t0 t1; t0=$(date +%s.%N); nbdcopy --connections="$2" --requests=64 "$1" null:; t1=$(date +%s.%N); awk "BEGIN { print $t1 - $t0 }"; }
declare -A best
for _ in $(seq 1 "$runs"); do
  for n in 1 2 4; do
    for s in mc qemu; do
      uri=$mc_uri; [ "$s" = qemu ] && uri=$qemu_uri
      t=$(secs "$uri" "$n")
      k="$s-$n"
      if [ -z "${best[$k]:-}" ] || awk "BEGIN { exit !($t < ${best[$k]}) }"; then best[$k]=$t; fi
    done
  done
done
bytes=$((size_mib * 1048576))
echo "cores: $(nproc); ${size_mib} MiB 2-link VMDK chain; best of $runs"
printf "%-11s %5s %8s %9s\n" server conns GB/s speedup
for s in mc qemu; do
  name=mountchain; [ "$s" = qemu ] && name=qemu-nbd
  for n in 1 2 4; do
    awk -v b="$bytes" -v t="${best[$s-$n]}" -v t1="${best[$s-1]}" -v n="$n" -v name="$name" \
      'BEGIN { printf "%-11s %5d %8.2f %8.2fx\n", name, n, b / t / 1e9, t1 / t }'
  done
done
