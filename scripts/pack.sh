#!/usr/bin/env bash
# Packs the libraries as NuGet packages into a local feed (default artifacts/packages):
# MountChain.Core, MountChain.FileSystems, MountChain.Nbd, with XML docs, deterministic builds
# and each package's PACKAGE.md as its README. Use the feed with
#   dotnet nuget add source "$PWD/artifacts/packages" -n mountchain-local; dotnet add package MountChain.Core
# usage: [VERSION=x.y.z] scripts/pack.sh [FEED_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
feed=${1:-$root/artifacts/packages}
mkdir -p "$feed"
for p in MountChain.Core MountChain.FileSystems MountChain.Nbd; do
  dotnet pack "$root/src/$p/$p.csproj" -c Release -o "$feed" -nologo -v q \
    -p:ContinuousIntegrationBuild=true ${VERSION:+-p:Version=$VERSION} >&2
done
ls "$feed"/MountChain.*.nupkg
