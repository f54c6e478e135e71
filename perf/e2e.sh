#!/usr/bin/env bash
# e2e.sh - end-to-end comparison of mountchain with qemu-img/qemu-io on the same chains, one run.
#
# Usage: perf/e2e.sh [-d "1 8 32 128"] [-n RANDOM_READS] [-q QEMU_RANDOM_READS] [-B]
#   -d  chain depths to measure (children over a 1 GiB fully written base)      [1 8 32 128]
#   -n  random 4 KiB reads for mountchain (2 threads)                             [2000000]
#   -q  random 4 KiB reads for qemu-img bench (it is much slower)                [20000]
#   -B  do not build: use $MOUNTCHAIN (a mountchain binary) as is
# Env: MOUNTCHAIN_PERF_DIR (fixture + build cache, default /tmp/mountchain-perf).
# Needs: dotnet, qemu-img, qemu-io, /usr/bin/time (Debian package `time`), python3.
#
# What is measured (page cache warm for everyone; nothing else is cached by us):
#   seq     ours: `mountchain cat cN.vmdk > /dev/null` and `mountchain hash`, whole process;
#           qemu: `qemu-img convert -n -m 16 -W -f vmdk -O raw cN.vmdk null-co://` (its fastest
#           mode; the null target discards the bytes, but every byte is read from the chain).
#           GB/s = 2^30 bytes / wall seconds of the whole process (startup included).
#   inproc  ours: `mountchain bench --mode sequential` (1 MiB reads, one thread, open excluded).
#   random  ours: `mountchain bench --mode random --threads 2` (uniformly random 4 KiB-aligned offsets);
#           qemu: `qemu-img bench -d 1 -s 4096 -S 409612288` — qemu-img bench has no random mode, so
#           a stride of 100003 x 4 KiB (coprime with the slot count) wrapping modulo the disk
#           scatters the reads over all grain tables; one request in flight (qemu-img bench -d 1).
#   open    ours: open + first 4 KiB read in-process (bench's openFirstReadMs, cold: includes JIT)
#           and the whole `mountchain bench --count 1` process; qemu: whole
#           `qemu-io -r -c 'read 0 4k' cN.vmdk` process.
#   rss     peak RSS (/usr/bin/time %M) of `cat`, of the random bench, and of qemu's convert.
#   serve   deepest chain only: `mountchain serve --socket` vs `qemu-nbd -r -t -k`, each read whole by
#           `nbdcopy --connections=1 SOCKET null:` (same client load); wall time and server VmHWM.
#   cpu     CPU seconds (user+sys) of `cat`: the machine may be shared, wall time then overstates.
set -euo pipefail
depths="1 8 32 128" nours=2000000 nqemu=20000 build=1
while getopts "d:n:q:B" o; do
  case $o in d) depths=$OPTARG;; n) nours=$OPTARG;; q) nqemu=$OPTARG;; B) build=0;; *) sed -n '2,8p' "$0"; exit 2;; esac
done
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
dir=${MOUNTCHAIN_PERF_DIR:-/tmp/mountchain-perf}
for t in qemu-img qemu-io python3 bc; do command -v $t >/dev/null || { echo "e2e: $t not found" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "e2e: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
maxdepth=0; for d in $depths; do (( d > maxdepth )) && maxdepth=$d; done
chain=$(PERF_DEPTH=$(( maxdepth > 128 ? maxdepth : 128 )) "$here/mkfixture.sh" "$dir")
if [ $build = 1 ]; then
  echo "e2e: publishing mountchain (Release, ReadyToRun) to $dir/bin" >&2
  dotnet publish "$repo/src/MountChain.Cli" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -p:UseSharedCompilation=false -o "$dir/bin" -v quiet -nologo >&2
  MOUNTCHAIN=$dir/bin/mountchain
fi
mc=${MOUNTCHAIN:?set MOUNTCHAIN with -B}
results=$dir/e2e-results.tsv; : > "$results"
timed() { # label, command... -> appends "label<TAB>seconds<TAB>maxrss_kb"; stdout of command to /dev/null
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$dir/time.out" "$@" > /dev/null
  read -r s kb u y < "$dir/time.out"; printf '%s\t%s\t%s\t%s\n' "$label" "$s" "$kb" "$(echo "$u + $y" | bc)" >> "$results"
}
# Warm the page cache for every file of the chain (both tools read from it).
cat "$chain"/*.vmdk > /dev/null
for d in $depths; do
  f=$chain/c$d.vmdk
  echo "e2e: depth $d" >&2
  timed "cat $d" "$mc" cat "$f"
  timed "hash $d" "$mc" hash "$f"
  timed "qemu-convert $d" qemu-img convert -n -m 16 -W -f vmdk -O raw "$f" null-co://
  "$mc" bench "$f" --mode sequential --json > "$dir/seq$d.json"
  /usr/bin/time -f "%e %M" -o "$dir/time.out" "$mc" bench "$f" --mode random --count "$nours" --threads 2 --json > "$dir/rnd$d.json"
  read -r s kb < "$dir/time.out"; printf 'bench-random %s\t%s\t%s\t0\n' "$d" "$s" "$kb" >> "$results"
  qemu-img bench -f vmdk -c "$nqemu" -d 1 -s 4096 -S 409612288 "$f" > "$dir/qbench$d.txt"
  timed "open-ours $d" "$mc" bench "$f" --count 1 --threads 1
  timed "open-qemu $d" qemu-io -f vmdk -r -c 'read 0 4k' "$f"
done
# Serving: the deepest chain over NBD, read whole by the same client.
serve() { # label, server command... (the server must create $sock)
  local label=$1; shift
  rm -f "$sock"; "$@" > /dev/null 2>&1 & local pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ] || { kill "$pid" 2>/dev/null || true; echo "e2e: $label did not start" >&2; return 1; }
  local t0 t1; t0=$(date +%s.%N)
  nbdcopy --connections=1 "nbd+unix:///?socket=$sock" null:
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t0\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(awk '/VmHWM/{print $2}' /proc/$pid/status)" >> "$results"
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}
if command -v nbdcopy >/dev/null && command -v qemu-nbd >/dev/null && "$mc" serve --help >/dev/null 2>&1; then
  sock=$dir/e2e.sock
  serve "serve-ours $maxdepth" "$mc" serve "$chain/c$maxdepth.vmdk" --socket "$sock" || true
  serve "serve-qemu $maxdepth" qemu-nbd -r -t -f vmdk -k "$sock" "$chain/c$maxdepth.vmdk" || true
  rm -f "$sock"
fi
python3 - "$dir" "$depths" "$nqemu" <<'PY'
import json, re, sys
d, depths, nq = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
rows = {}
for line in open(f"{d}/e2e-results.tsv"):
    label, s, kb, cpu = line.rstrip("\n").split("\t")
    rows[label] = (float(s), int(kb), float(cpu))
G = 2**30 / 1e9
def r(a, b): return f"{a / b:.1f}x" if b else "-"
print(f"{'depth':>5} | {'cat GB/s':>8} {'cat CPU s':>9} {'hash GB/s':>9} {'inproc GB/s':>11} {'qemu GB/s':>9} {'ratio':>6} | "
      f"{'IOPS ours':>10} {'IOPS qemu':>9} {'ratio':>6} | {'open ms ours':>12} {'proc ms':>7} {'qemu ms':>7} | "
      f"{'RSS MB cat':>10} {'rnd':>5} {'qemu':>5}")
iops = {}
for dep in depths:
    cat, hsh, qc = rows[f"cat {dep}"], rows[f"hash {dep}"], rows[f"qemu-convert {dep}"]
    seq = json.load(open(f"{d}/seq{dep}.json")); rnd = json.load(open(f"{d}/rnd{dep}.json"))
    qt = float(re.search(r"completed in ([0-9.]+) seconds", open(f"{d}/qbench{dep}.txt").read()).group(1))
    qiops = nq / qt
    iops[dep] = rnd["iops"]
    oo, oq = rows[f"open-ours {dep}"], rows[f"open-qemu {dep}"]
    rb = rows[f"bench-random {dep}"]
    print(f"{dep:>5} | {G / cat[0]:8.2f} {cat[2]:9.2f} {G / hsh[0]:9.2f} {seq['gigabytesPerSecond']:11.2f} {G / qc[0]:9.2f} {r(G / cat[0], G / qc[0]):>6} | "
          f"{rnd['iops']:10.0f} {qiops:9.0f} {r(rnd['iops'], qiops):>6} | {rnd['openFirstReadMs']:12.1f} {oo[0]*1000:7.0f} {oq[0]*1000:7.0f} | "
          f"{cat[1]/1024:10.1f} {rb[1]/1024:5.1f} {qc[1]/1024:5.1f}")
mx = str(max(int(x) for x in depths))
if f"serve-ours {mx}" in rows and f"serve-qemu {mx}" in rows:
    so, sq = rows[f"serve-ours {mx}"], rows[f"serve-qemu {mx}"]
    print(f"serving depth {mx} over NBD (nbdcopy --connections=1 to null:): mountchain serve {so[0]:.2f} s, peak RSS {so[1]/1024:.1f} MB; "
          f"qemu-nbd {sq[0]:.2f} s, peak RSS {sq[1]/1024:.1f} MB")
if len(depths) > 1:
    print(f"random IOPS depth {depths[-1]} / depth {depths[0]}: {iops[depths[-1]] / iops[depths[0]]:.2f}")
print("cat/hash/qemu GB/s: whole process, 1 GiB; inproc: `mountchain bench --mode sequential`; "
      "open ms ours: in-process open + first 4 KiB (cold, JIT included); proc ms: whole process wall time")
PY
