#!/usr/bin/env bash
# Installs what MountChain's demo, tests and benchmarks use on Debian/Ubuntu (run as root).
# The .NET 10 SDK must already be installed (it is not in Debian's archive).
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (sudo $0)" >&2
  exit 1
fi
packages=(
  qemu-utils qemu-system-common 
  libnbd-bin                    
  fuse3                         
  libvmdk-utils sleuthkit       
  ntfs-3g xfsprogs e2fsprogs mtools dosfstools exfatprogs exfat-fuse fdisk util-linux attr acl
  lvm2                          # pvcreate/vgcreate/lvcreate/vgcfgrestore for the LVM fixtures
  openssl time procps kmod fio bc python3
  gcc libfuse3-dev pkg-config   # perf/fuse/transport.sh builds perf/fuse/ramfuse.c against libfuse3
  python3-libnbd strace         # perf/soak.sh's NBD client; the read-only proof traces the CLI
  clang zlib1g-dev              # NativeAOT publish of the mountchain binary (scripts/install.sh)
  afl++                         # scripts/fuzz.sh: coverage-guided fuzzing (SharpFuzz-instrumented targets)
)
need=()
for p in "${packages[@]}"; do
  [[ $p == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v dotnet >/dev/null; then
  echo "install-deps: the .NET 10 SDK is required: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi
