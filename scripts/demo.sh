#!/usr/bin/env bash
# The demo a newcomer runs first (as root): installs dependencies, builds and installs the native
# `mountchain` binary (scripts/install.sh: PREFIX/bin, default /usr/local), makes a real VMDK
# snapshot chain with qemu-img/qemu-io (a base and three children), then shows `info` of the
# chain and the sha256 of an older generation next to qemu's own reading of it, run by the
# installed binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/install.sh"
mc=("${PREFIX:-/usr/local}/bin/mountchain")

demo=${MOUNTCHAIN_DEMO_DIR:-/tmp/mountchain-demo}
rm -rf "$demo" && mkdir -p "$demo" && cd "$demo"
qemu-img create -q -f vmdk base.vmdk 256M
qemu-io -f vmdk -c 'write -P 0x11 0 64M' base.vmdk >/dev/null
parent=base.vmdk
for g in 1 2 3; do
  qemu-img create -q -f vmdk -b "$parent" -F vmdk "c$g.vmdk"
  qemu-io -f vmdk -c "write -P 0x$((g + 20)) $((g * 8))M 1M" -c "write -P 0x$((g + 40)) $((g * 3))M 64k" "c$g.vmdk" >/dev/null
  parent=c$g.vmdk
done

echo "== mountchain info $demo/c3.vmdk"
"${mc[@]}" info c3.vmdk
echo
echo "== generation 1 of the chain: ours, then qemu's"
"${mc[@]}" hash c3.vmdk -g 1
qemu-img convert -O raw c1.vmdk gen1.raw && sha256sum gen1.raw | sed 's/ .*/  (qemu-img convert of c1.vmdk)/'
rm -f gen1.raw
