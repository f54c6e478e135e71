#!/usr/bin/env bash
# mountchain's FUSE transports against the libfuse limit, in one run on the same bytes:
#   ramfuse (perf/fuse/ramfuse.c: the smallest libfuse3 low-level server, the image held in RAM)
#   mountchain mount, our own /dev/fuse transport   (MOUNTCHAIN_FUSE_TRANSPORT=kernel)
#   mountchain mount, the libfuse fallback transport (MOUNTCHAIN_FUSE_TRANSPORT=libfuse)
# on a raw image and on VMDK chains of several depths holding the same bytes (page cache warm).
# Measures: queue-depth-1 random 4 KiB O_DIRECT reads (fio psync, 1 job: the latency path) and
# sequential dd bs=1M iflag=direct (best of 3). Prints IOPS / GB/s, the server's CPU time per GiB
# of dd, and the ratio to ramfuse.
# Needs root, fuse3, libfuse3-dev, pkg-config, cc, fio, qemu-utils.
# Usage: perf/fuse/transport.sh [size-MiB=1024] [fio-seconds=5] [depths="1 32"]
set -euo pipefail
SIZE_MIB=${1:-1024}
SECONDS_PER_RUN=${2:-5}
DEPTHS=${3:-"1 32"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /var/tmp/mc-fuse-transport.XXXXXX)
MC_DLL="$ROOT/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll"
mc() { if [ -n "${MOUNTCHAIN:-}" ]; then "$MOUNTCHAIN" "$@"; else dotnet "$MC_DLL" "$@"; fi; }
RAM_PID=""

cleanup() {
    set +e
    [ -n "$RAM_PID" ] && kill "$RAM_PID" 2>/dev/null && wait "$RAM_PID" 2>/dev/null
    for mp in "$WORK"/mnt-*; do
        grep -q " $mp " /proc/self/mountinfo 2>/dev/null && { mc unmount "$mp" >/dev/null 2>&1 || umount -l "$mp"; }
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in fio qemu-img qemu-io cc pkg-config; do command -v $tool >/dev/null || { echo "transport.sh: needs $tool" >&2; exit 1; }; done
pkg-config --exists fuse3 || { echo "transport.sh: needs libfuse3-dev" >&2; exit 1; }

cc -O2 -o "$WORK/ramfuse" "$ROOT/perf/fuse/ramfuse.c" $(pkg-config --cflags --libs fuse3)
[ -n "${MOUNTCHAIN:-}" ] || dotnet build -c Release "$ROOT/src/MountChain.Cli" -v q -nologo >/dev/null

echo "== ${SIZE_MIB} MiB of random data; VMDK chains of depth $DEPTHS holding the same bytes"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/disk.img"
max_depth=0; for d in $DEPTHS; do [ "$d" -gt "$max_depth" ] && max_depth=$d; done
# Base = the image; each child rewrites 16 scattered 64 KiB pieces with the image's own bytes, so
# every generation reads exactly like disk.img while reads still walk the whole chain.
qemu-img convert -f raw -O vmdk "$WORK/disk.img" "$WORK/c0.vmdk"
for ((i = 1; i <= max_depth; i++)); do
    qemu-img create -q -f vmdk -b "c$((i - 1)).vmdk" -F vmdk "$WORK/c$i.vmdk"
    cmds=()
    for j in $(seq 16); do
        off=$(( (RANDOM * 32768 + RANDOM) % (SIZE_MIB * 16) * 65536 ))
        dd if="$WORK/disk.img" of="$WORK/piece" bs=64K skip=$((off / 65536)) count=1 status=none
        qemu-io -f vmdk -c "write -s $WORK/piece $off 64k" "$WORK/c$i.vmdk" >/dev/null
    done
done

qd1_iops() {
    fio --name=qd1 --filename="$1" --readonly --rw=randread --bs=4k --direct=1 --ioengine=psync \
        --numjobs=1 --time_based --runtime="$SECONDS_PER_RUN" --output-format=terse --terse-version=3 2>/dev/null \
        | awk -F';' '{ printf "%d", $8 }'
}
dd_rate() {
    local best=0 r
    for _ in 1 2 3; do
        r=$(dd if="$1" of=/dev/null bs=1M iflag=direct 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i-1) }')
        best=$(awk -v a="$best" -v b="$SIZE_MIB" -v s="$r" 'BEGIN { g = b * 1048576 / s / 1e9; print (g > a ? g : a) }')
    done
    printf '%.2f' "$best"
}
# The server's CPU time (utime + stime of all its threads, also those that ended, from
# /proc/PID/stat; the kernel derives their sum from the precise run time): what the dd runs cost
# the server, a ratio that a loaded machine disturbs far less than wall time.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ROWS=()
measure() { # label file server-pid
    cmp -s <(head -c 4194304 "$2") <(head -c 4194304 "$WORK/disk.img") || { echo "$1: content differs" >&2; exit 1; }
    local iops seq t0 t1 cpu
    iops=$(qd1_iops "$2")
    t0=$(cpu_ticks "$3"); seq=$(dd_rate "$2"); t1=$(cpu_ticks "$3")
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v m="$SIZE_MIB" 'BEGIN { printf "%.0f", t * 1000 / hz / (3 * m / 1024) }')
    ROWS+=("$1|$iops|$seq|$cpu")
    echo "   $1: QD1 4K ${iops} IOPS, dd 1M ${seq} GB/s, server CPU ${cpu} ms per GiB of dd"
}

echo "== ramfuse (libfuse3 low-level, bytes in RAM)"
mkdir "$WORK/mnt-ram"
"$WORK/ramfuse" "$WORK/disk.img" "$WORK/mnt-ram" & RAM_PID=$!
for _ in $(seq 500); do [ -e "$WORK/mnt-ram/disk.raw" ] && break; sleep 0.01; done
measure "ramfuse" "$WORK/mnt-ram/disk.raw" "$RAM_PID"
umount "$WORK/mnt-ram"; wait "$RAM_PID" 2>/dev/null || true; RAM_PID=""

for transport in uring kernel libfuse; do
    for source in raw $DEPTHS; do
        if [ "$source" = raw ]; then file="$WORK/disk.img"; label="mountchain $transport raw"
        else file="$WORK/c$source.vmdk"; label="mountchain $transport vmdk d$source"; fi
        mp="$WORK/mnt-$transport-$source"; mkdir "$mp"
        MOUNTCHAIN_FUSE_TRANSPORT=$transport mc mount "$file" "$mp"
        measure "$label" "$mp/disk.raw" "$(pgrep -n -f -- "mount .*$mp")"
        mc unmount "$mp"
    done
done

echo
echo "== ${SIZE_MIB} MiB; fio randread 4k O_DIRECT psync QD1 ${SECONDS_PER_RUN}s; dd bs=1M iflag=direct best of 3"
base_iops=$(echo "${ROWS[0]}" | cut -d'|' -f2); base_seq=$(echo "${ROWS[0]}" | cut -d'|' -f3); base_cpu=$(echo "${ROWS[0]}" | cut -d'|' -f4)
printf '%-30s %12s %8s %10s %8s %14s %8s\n' "server" "QD1 IOPS" "ratio" "dd GB/s" "ratio" "dd CPU ms/GiB" "ratio"
for row in "${ROWS[@]}"; do
    IFS='|' read -r label iops seq cpu <<< "$row"
    printf '%-30s %12s %7.2fx %10s %7.2fx %14s %7.2fx\n' "$label" "$iops" "$(echo "$iops / $base_iops" | bc -l)" "$seq" "$(echo "$seq / $base_seq" | bc -l)" \
        "$cpu" "$(echo "$cpu / ($base_cpu + 0.001)" | bc -l)"
done
echo "(dd CPU: the server's own CPU time per GiB of 1 MiB O_DIRECT reads, lower is better; on a loaded machine trust it over GB/s)"
echo "targets (issue 13): QD1 and dd >= 1.0x ramfuse at every depth"
