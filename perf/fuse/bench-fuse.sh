#!/usr/bin/env bash
# End-to-end FUSE read throughput, compared in one run:
#   mountchain mount (raw image and VMDK)  vs  qemu-storage-daemon FUSE export  vs  libvmdk's vmdkmount.
# Measures: sequential dd bs=1M iflag=direct, random 4 KiB O_DIRECT reads (fio, libaio, iodepth 32),
# and how long `mountchain mount` takes to return a usable mount.
# Needs root, fuse3, qemu-utils, qemu-system-common (qemu-storage-daemon), fio; vmdkmount optional.
# Usage: perf/fuse/bench-fuse.sh [size-MiB=1024] [seconds-per-fio-run=5]
set -euo pipefail

SIZE_MIB=${1:-1024}
FIO_SECONDS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/bench-fuse.XXXXXX)
MC="$ROOT/src/MountChain.Cli/bin/Release/net10.0/mountchain"
QSD_PID=""

cleanup() {
    set +e
    for mp in "$WORK"/mnt-*; do
        [ -e "$mp" ] || continue
        if mountpoint -q "$mp" 2>/dev/null || grep -q " $mp " /proc/self/mountinfo; then
            "$MC" unmount "$mp" >/dev/null 2>&1 || fusermount3 -uz "$mp" >/dev/null 2>&1 || umount -l "$mp"
        fi
    done
    [ -n "$QSD_PID" ] && kill "$QSD_PID" 2>/dev/null && wait "$QSD_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "bench-fuse: needs $1" >&2; exit 1; }; }
need fio; need qemu-img; need qemu-storage-daemon; need fusermount3

echo "== building mountchain (Release)"
dotnet build -c Release "$ROOT/src/MountChain.Cli" -p:UseSharedCompilation=false -v q -nologo >/dev/null

echo "== ${SIZE_MIB} MiB image (random data), plus a VMDK of it"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/disk.img"
qemu-img convert -f raw -O vmdk "$WORK/disk.img" "$WORK/disk.vmdk"

wait_for() { # file timeout-seconds
    local i=0
    while [ ! -e "$1" ]; do
        sleep 0.01; i=$((i + 1))
        if [ $i -gt $(($2 * 100)) ]; then echo "timeout waiting for $1" >&2; return 1; fi
    done
    return 0
}

dd_rate() { # file -> GB/s, best of 3
    local best=0 r
    for _ in 1 2 3; do
        r=$(dd if="$1" of=/dev/null bs=1M iflag=direct 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i-1) }')
        best=$(awk -v a="$best" -v b="$SIZE_MIB" -v s="$r" 'BEGIN { g = b * 1048576 / s / 1e9; print (g > a ? g : a) }')
    done
    printf '%.2f' "$best"
}

fio_iops() { # file -> IOPS of random 4 KiB O_DIRECT reads
    fio --name=rand4k --filename="$1" --readonly --rw=randread --bs=4k --direct=1 --ioengine=libaio \
        --iodepth=32 --numjobs=2 --time_based --runtime="$FIO_SECONDS" --group_reporting \
        --output-format=terse --terse-version=3 2>/dev/null | awk -F';' '{ printf "%d", $8 }'
}

RESULTS=()
measure() { # label file
    local seq iops
    seq=$(dd_rate "$2")
    iops=$(fio_iops "$2")
    RESULTS+=("$(printf '%-34s %10s GB/s %12s IOPS' "$1" "$seq" "$iops")")
    echo "   $1: dd ${seq} GB/s, random 4K ${iops} IOPS"
}

echo "== mountchain mount (raw image)"
mkdir "$WORK/mnt-mc"
start=$(date +%s%N)
"$MC" mount "$WORK/disk.img" "$WORK/mnt-mc"
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "   mount returned a usable mount in ${ready_ms} ms (includes starting the detached .NET server)"
cmp -s <(head -c 1048576 "$WORK/mnt-mc/disk.raw") <(head -c 1048576 "$WORK/disk.img") || { echo "content mismatch" >&2; exit 1; }
measure "mountchain raw" "$WORK/mnt-mc/disk.raw"
"$MC" unmount "$WORK/mnt-mc"

echo "== mountchain mount (VMDK)"
mkdir "$WORK/mnt-mcv"
start=$(date +%s%N)
"$MC" mount "$WORK/disk.vmdk" "$WORK/mnt-mcv"
ready_vmdk_ms=$(( ($(date +%s%N) - start) / 1000000 ))
measure "mountchain vmdk" "$WORK/mnt-mcv/disk.raw"
"$MC" unmount "$WORK/mnt-mcv"

echo "== qemu-storage-daemon FUSE export (raw image)"
touch "$WORK/mnt-qsd"
qemu-storage-daemon \
    --blockdev driver=file,node-name=file0,filename="$WORK/disk.img",read-only=on,cache.direct=off \
    --blockdev driver=raw,node-name=disk0,file=file0,read-only=on \
    --export type=fuse,id=exp0,node-name=disk0,mountpoint="$WORK/mnt-qsd",writable=off &
QSD_PID=$!
for _ in $(seq 500); do grep -q " $WORK/mnt-qsd " /proc/self/mountinfo && break; sleep 0.01; done
measure "qemu-storage-daemon raw" "$WORK/mnt-qsd"
kill "$QSD_PID"; wait "$QSD_PID" 2>/dev/null || true; QSD_PID=""

echo "== qemu-storage-daemon FUSE export (VMDK)"
touch "$WORK/mnt-qsdv"
qemu-storage-daemon \
    --blockdev driver=file,node-name=file0,filename="$WORK/disk.vmdk",read-only=on \
    --blockdev driver=vmdk,node-name=disk0,file=file0,read-only=on \
    --export type=fuse,id=exp0,node-name=disk0,mountpoint="$WORK/mnt-qsdv",writable=off &
QSD_PID=$!
for _ in $(seq 500); do grep -q " $WORK/mnt-qsdv " /proc/self/mountinfo && break; sleep 0.01; done
measure "qemu-storage-daemon vmdk" "$WORK/mnt-qsdv"
kill "$QSD_PID"; wait "$QSD_PID" 2>/dev/null || true; QSD_PID=""

if command -v vmdkmount >/dev/null; then
    echo "== libvmdk vmdkmount (VMDK)"
    mkdir "$WORK/mnt-libvmdk"
    vmdkmount "$WORK/disk.vmdk" "$WORK/mnt-libvmdk" >/dev/null 2>&1 &
    wait_for "$WORK/mnt-libvmdk/vmdk1" 30
    # vmdkmount's file may refuse O_DIRECT; fall back to buffered reads and say so.
    if dd if="$WORK/mnt-libvmdk/vmdk1" of=/dev/null bs=1M count=1 iflag=direct 2>/dev/null; then
        measure "libvmdk vmdkmount vmdk" "$WORK/mnt-libvmdk/vmdk1"
    else
        RESULTS+=("libvmdk vmdkmount vmdk: O_DIRECT not supported")
    fi
    fusermount3 -u "$WORK/mnt-libvmdk" || fusermount3 -uz "$WORK/mnt-libvmdk"
fi

echo
echo "== summary (${SIZE_MIB} MiB, dd bs=1M iflag=direct best of 3; fio randread 4k direct libaio iodepth=32 x2 jobs, ${FIO_SECONDS}s)"
printf '%s\n' "${RESULTS[@]}"
echo "mountchain mount ready: raw ${ready_ms} ms, vmdk ${ready_vmdk_ms} ms (targets: dd >= 3 GB/s, 4K >= 60k IOPS, ready <= 50 ms)"
