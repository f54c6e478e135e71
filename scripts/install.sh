#!/usr/bin/env bash
# Builds the native mountchain binary (NativeAOT, linux-x64) and installs it with its bash
# completion and man page, both generated from the binary's own command definitions.
#   scripts/install.sh               install into PREFIX (default /usr/local; run as root for that)
#   PREFIX=$HOME/.local scripts/install.sh
#   scripts/install.sh --uninstall   remove what an install put there
# Idempotent: running it again rebuilds and replaces the same three files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
bin=$prefix/bin/mountchain
completion=$prefix/share/bash-completion/completions/mountchain
manpage=$prefix/share/man/man1/mountchain.1

case "${1:-}" in
  --uninstall)
    rm -f "$bin" "$completion" "$manpage"
    echo "install: removed $bin, $completion, $manpage"
    exit 0 ;;
  "") ;;
  *) echo "usage: [PREFIX=DIR] $0 [--uninstall]" >&2; exit 2 ;;
esac

# NativeAOT links with clang and zlib; install them when we can (root), else say what is missing.
missing=()
command -v clang >/dev/null || missing+=(clang)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install: the native build needs ${missing[*]} (apt-get install ${missing[*]}, as root)" >&2
    exit 1
  fi
fi
command -v dotnet >/dev/null || { echo "install: the .NET 10 SDK is required to build" >&2; exit 1; }

out=$root/artifacts/linux-x64
dotnet publish "$root/src/MountChain.Cli" -c Release -r linux-x64 -o "$out" -nologo -v q >&2
native=$out/mountchain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$native" generate-docs man > "$work/mountchain.1"
"$native" generate-docs bash-completion > "$work/mountchain.bash"

install -D -m 0755 "$native" "$bin"
install -D -m 0644 "$work/mountchain.bash" "$completion"
install -D -m 0644 "$work/mountchain.1" "$manpage"
echo "install: $bin ($(du -h "$bin" | cut -f1)), bash completion $completion, man page $manpage"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "install: $prefix/bin is not on PATH" >&2 ;; esac
