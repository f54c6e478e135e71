#!/usr/bin/env bash
# COW write performance of mountchain's redo log against qemu, in one run on the same disk.
#  1. random 4 KiB writes, each into a new grain, flush after each write (IOPS)
#     mountchain bench-write --pattern random-new-grains  vs  qemu-img bench -w (step 64 KiB, flush interval 1)
#  2. sequential 256 MiB write + one final flush (MB/s)
#     mountchain bench-write --pattern sequential --block-size 1M  vs  qemu-img bench -w -s 1M
#  3. the same random 4 KiB flush-each writes by 8 concurrent writers (group commit: syncs shared)
#     mountchain bench-write --threads 8  vs  the single writer
#  4. the disk's own limit: fio 4 KiB random pwrite + fdatasync after each, on a plain file
# Usage: [COUNT=5000] [ROUNDS=3] perf/cow/run.sh [work-dir]   (default: a temp dir under /var/tmp, i.e. a real disk, not tmpfs)
# MOUNTCHAIN_DLL=path/mountchain.dll skips the build.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d /var/tmp/mc-cow-perf.XXXXXX)}
mkdir -p "$work"
count=${COUNT:-5000}
[ -n "${MOUNTCHAIN_DLL:-}" ] || dotnet build -c Release "$here/src/MountChain.Cli" -p:UseSharedCompilation=false >/dev/null
mc_dll=${MOUNTCHAIN_DLL:-"$here/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll"}
mc() { dotnet "$mc_dll" "$@"; }
cd "$work"
rm -f base.vmdk ours*.vmdk qemu*.vmdk
qemu-img create -f vmdk base.vmdk 1G >/dev/null
qemu-io -f vmdk -c 'write -P 0x5a 0 512M' base.vmdk >/dev/null

# The four flush-each measurements run interleaved, ROUNDS times, best of each: on a shared,
# loaded machine the load then hits ours and the peers alike.
best() { python3 -c "import sys; print(max(float(x) for x in sys.argv[1:] if x))" "$@"; }
ours_all=(); qemu_all=(); ours8_all=(); fio_all=()
for round in $(seq "${ROUNDS:-3}"); do
    rm -f ours-rand.vmdk ours-rand8.vmdk qemu-rand.vmdk
    mc create-child base.vmdk ours-rand.vmdk >/dev/null
    ours_all+=("$(mc bench-write ours-rand.vmdk --pattern random-new-grains --block-size 4K --count "$count" --flush-every 1 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["iops"]))')")
    qemu-img create -f vmdk -b base.vmdk -F vmdk qemu-rand.vmdk >/dev/null
    # Apples to apples with bench-write's own clock (writes only, no start-up): qemu's own "Run
    # completed in S seconds". Both pay one fdatasync per flush on the same disk (strace -c: qemu
    # 4 pwrite + 1 fdatasync per write, ours 4 pwrite + 1 fdatasync), so both are bound by the
    # disk's sync latency; -t none (O_DIRECT) vs our buffered writes changes only the copy.
    qemu_s=$(qemu-img bench -w -f vmdk -t none -c "$count" -d 1 -s 4K -S 64K --flush-interval=1 qemu-rand.vmdk | awk '/Run completed in/ { print $4 }')
    qemu_all+=("$(python3 -c "print(round($count/$qemu_s))")")
    mc create-child base.vmdk ours-rand8.vmdk >/dev/null
    ours8_all+=("$(mc bench-write ours-rand8.vmdk --pattern random-new-grains --block-size 4K --count $((count / 8)) --flush-every 1 --threads 8 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["iops"]))')")
    fio_all+=("$(fio --name=raw --filename="$work/raw.bin" --size=1G --rw=randwrite --bs=4k --ioengine=psync --fdatasync=1 \
        --number_ios="$count" --output-format=terse --terse-version=3 2>/dev/null | awk -F';' '{ printf "%d", $49 }')")
    rm -f "$work/raw.bin"
    echo "round $round: mountchain ${ours_all[-1]}, qemu-img ${qemu_all[-1]}, 8 writers ${ours8_all[-1]}, fio ${fio_all[-1]} IOPS" >&2
done
ours_iops=$(best "${ours_all[@]}"); qemu_iops=$(best "${qemu_all[@]}"); ours8_iops=$(best "${ours8_all[@]}"); fio_iops=$(best "${fio_all[@]}")

mc create-child base.vmdk ours-seq.vmdk >/dev/null
ours_mbs=$(mc bench-write ours-seq.vmdk --pattern sequential --block-size 1M --count 256 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["mbPerSecond"]))')
qemu-img create -f vmdk -b base.vmdk -F vmdk qemu-seq.vmdk >/dev/null
t0=$(date +%s.%N)
qemu-img bench -w -f vmdk -t writeback -c 256 -d 1 -s 1M -S 1M qemu-seq.vmdk >/dev/null
qemu-io -f vmdk -c flush qemu-seq.vmdk >/dev/null
t1=$(date +%s.%N)
qemu_mbs=$(python3 -c "print(round(256*1048576/($t1-$t0)/1e6))")

for f in ours-rand.vmdk ours-rand8.vmdk ours-seq.vmdk; do qemu-img check -f vmdk "$f" >/dev/null || { echo "qemu-img check failed on $f"; exit 1; }; done
python3 - "$ours_iops" "$qemu_iops" "$ours_mbs" "$qemu_mbs" "$ours8_iops" "$fio_iops" <<'PY'
import sys
oi, qi, om, qm, o8, fi = map(float, sys.argv[1:])
print(f"random 4 KiB into new grains, flush each: mountchain {oi:.0f} IOPS, qemu-img bench {qi:.0f} IOPS, ratio {oi/qi:.1f}x")
print(f"  same, 8 concurrent writers:             mountchain {o8:.0f} IOPS, {o8/oi:.1f}x the single writer (target 3x)")
print(f"  raw 4 KiB pwrite + fdatasync (fio):     {fi:.0f} IOPS; mountchain single writer at {oi/fi:.2f}x (target 0.8x)")
print(f"sequential 256 MiB + final flush:        mountchain {om:.0f} MB/s, qemu-img bench {qm:.0f} MB/s, ratio {om/qm:.1f}x")
PY
[ -z "${1:-}" ] && rm -rf "$work"
exit 0
