#!/usr/bin/env bash
# Runs MountChain's whole test suite (installs what it needs first; run as root so the FUSE,
# loop-device and file-system tests run) and ends with one line "N passed, N failed[, N skipped]".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" || exit 1
modprobe fuse 2>/dev/null || true
modprobe loop 2>/dev/null || true
results=$(mktemp -d)
# Offer FUSE-over-io_uring (kernel 6.14+), so that mounts use our io_uring transport; restored at exit.
uring=/sys/module/fuse/parameters/enable_uring
uring_before=$(cat "$uring" 2>/dev/null || true)
[ -n "$uring_before" ] && echo Y > "$uring" 2>/dev/null
# The CLI tests run the native (NativeAOT) binary, installed by scripts/install.sh into a temporary
# PREFIX, so that what breaks only under AOT (reflection, trimming) fails here.
native=$(mktemp -d)
trap 'rm -rf "$results" "$native"; [ -n "$uring_before" ] && echo "$uring_before" > "$uring" 2>/dev/null' EXIT
cd "$root"
# --coverage: line coverage of the main run through coverlet (coverage/ keeps the cobertura reports).
coverage=0
args=()
for a in "$@"; do
  if [ "$a" = --coverage ]; then coverage=1; else args+=("$a"); fi
done
coverage_args=()
[ "$coverage" -eq 1 ] && coverage_args=(--collect "XPlat Code Coverage" --results-directory "$results/coverage")
dotnet build MountChain.sln -c Release -v q -nologo || { echo "0 passed, 1 failed"; exit 1; }
PREFIX=$native "$root/scripts/install.sh" || { echo "0 passed, 1 failed"; exit 1; }
# With --coverage the CLI runs JIT-compiled from the instrumented build instead, so that its lines count
# (coverlet records hits in every process that loads an instrumented assembly).
[ "$coverage" -eq 1 ] || export MOUNTCHAIN_CLI=$native/bin/mountchain
dotnet test tests/MountChain.Tests -c Release --no-build -nologo "${coverage_args[@]}" \
  --logger "trx;LogFileName=$results/results.trx" --logger "console;verbosity=minimal" "${args[@]}"
rc=$?
if [ "$coverage" -eq 1 ]; then
  reports=$(find "$results/coverage" -name coverage.cobertura.xml 2>/dev/null)
  if [ -n "$reports" ]; then
    rm -rf "$root/coverage" && mkdir -p "$root/coverage"
    i=0
    for r in $reports; do cp "$r" "$root/coverage/coverage.$i.cobertura.xml"; i=$((i + 1)); done
    python3 "$root/scripts/coverage-summary.py" "$root"/coverage/coverage.*.cobertura.xml
    echo "coverage: cobertura report(s) in $root/coverage/"
  else
    echo "coverage: no report was produced"
  fi
fi
trx=$results/results.trx
if [ ! -f "$trx" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
# The FUSE tests again on the fallback transport (our read/write loop on /dev/fuse), so both stay proven.
MOUNTCHAIN_FUSE_TRANSPORT=kernel dotnet test tests/MountChain.Tests -c Release --no-build -nologo \
  --filter 'FullyQualifiedName~MountChain.Tests.Fuse|FullyQualifiedName~MountChain.Tests.FileTree|FullyQualifiedName~WritableMount' \
  --logger "trx;LogFileName=$results/fallback.trx" --logger "console;verbosity=minimal" "${args[@]}" || rc=1
# Every fuzz target briefly under AFL++ on its committed corpus (about 3 minutes; issue 15): each target
# counts as one test below. The corpus and crash inputs also replay as xunit tests (MountChain.Tests.Fuzz).
: > "$results/fuzz.txt"
FUZZ_SUMMARY=$results/fuzz.txt nice -n 10 "$root/scripts/fuzz.sh" --ci 3 || rc=1
# Count per-test results only (the summary element also carries an outcome attribute).
count() { cat "$results"/*.trx | grep -o "<UnitTestResult [^>]*outcome=\"$1\"" | wc -l; }
fuzzed() { awk -v k="$1" '$1==k {n++} END {print n+0}' "$results/fuzz.txt"; }
passed=$(( $(count Passed) + $(fuzzed PASS) ))
failed=$(( $(count Failed) + $(fuzzed FAIL) ))
skipped=$(count NotExecuted)
line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
