# Shared by perf/files/*.sh (source it after `set -euo pipefail`): the CLI build, a private work
# directory with a mount point that is always cleaned up, timing, cache dropping and fixtures.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mcdll=$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll
loop=""

# bench_setup NAME: builds the CLI; $work (/tmp/mc-bench-NAME.*) and $work/mnt ($mnt) exist until exit.
bench_setup() {
  work=$(mktemp -d "/tmp/mc-bench-$1.XXXXXX")
  mnt=$work/mnt
  mkdir -p "$mnt"
  trap bench_cleanup EXIT
  dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
}
bench_cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  if [ -n "$loop" ]; then losetup -d "$loop"; fi
  rm -rf "$work"
}

# MOUNTCHAIN=/path/to/mountchain runs that binary (the native one scripts/install.sh builds) instead of the JIT build.
mc() { if [ -n "${MOUNTCHAIN:-}" ]; then "$MOUNTCHAIN" "$@"; else dotnet "$mcdll" "$@"; fi; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
# secs CMD...: wall seconds of CMD (its stdout discarded).
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}'; }

# small_tree DIR COUNT [long]: COUNT files of 100..7099 random bytes in folders of 500, named
# d1/f1 ..., or with "long" dir-1/file-number-1.dat ... (long names: VFAT LFN entries).
small_tree() {
  local dir=$1 count=$2 d i dp=d fp=f fs=""
  if [ "${3:-}" = long ]; then dp=dir- fp=file-number- fs=.dat; fi
  for d in $(seq 1 $((count / 500 + 1))); do mkdir -p "$dir/$dp$d"; done
  for i in $(seq 1 "$count"); do head -c $((i % 7000 + 100)) /dev/urandom > "$dir/$dp$((i / 500 + 1))/$fp$i$fs"; done
}

# volume KIND IMG SIZE: a raw ext4, xfs or ntfs image made by the real mkfs, mounted on $mnt by the
# kernel (ntfs-3g for NTFS); the caller fills it and runs `umount "$mnt"`.
volume() {
  local kind=$1 img=$2 size=$3
  truncate -s "$size" "$img"
  case $kind in
    ext4) mkfs.ext4 -q -F "$img"; mount -o loop "$img" "$mnt" ;;
    xfs)  mkfs.xfs -q -f "$img"; mount -o loop "$img" "$mnt" ;;
    ntfs) mkntfs -F -Q "$img" >/dev/null 2>&1; ntfs-3g "$img" "$mnt" ;;
    *) echo "unknown file system $kind" >&2; return 2 ;;
  esac
}
