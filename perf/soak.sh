#!/usr/bin/env bash
# Soak: perf/soak.sh [MINUTES] (default 10). 16 O_DIRECT readers and 1 flushing writer through a
# writable FUSE mount and an NBD export of the same chain at once, checked against shadow files the
# whole time; both servers are restarted mid-run (SIGTERM, then SIGKILL) from the same redo logs.
# Needs root (FUSE), qemu-utils, fuse3, python3-libnbd (scripts/install-deps.sh). Exit 0 only with
# 0 mismatches and 0 lost flushed writes; prints counts and the servers' peak RSS.
set -euo pipefail
minutes=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
dll="$root/src/MountChain.Cli/bin/Release/net10.0/mountchain.dll"
[ -f "$dll" ] || dotnet build "$root/src/MountChain.Cli" -c Release -v q -nologo >/dev/null
cli=${MOUNTCHAIN_CLI:-$dll}   # scripts/test.sh points this at the native build
work=$(mktemp -d /tmp/mountchain-soak-XXXXXX)
cleanup() {
  for m in "$work/mnt"; do mountpoint -q "$m" 2>/dev/null && { umount "$m" >/dev/null 2>&1 || umount -l "$m"; }; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
# A 128 MiB chain: a base with data and holes, and one snapshot over part of it.
qemu-img create -q -f vmdk base0.vmdk 128M
qemu-io -f vmdk -c 'write -P 0x5a 0 32M' -c 'write -P 0xa5 64M 16M' base0.vmdk >/dev/null
qemu-img create -q -f vmdk -b base0.vmdk -F vmdk base.vmdk
qemu-io -f vmdk -c 'write -P 0x33 8M 8M' -c 'write -P 0x44 100M 4M' base.vmdk >/dev/null
qemu-img convert -O raw base.vmdk base.raw
/usr/bin/python3 "$root/perf/soak/soak.py" "$minutes" "$cli" "$work"
