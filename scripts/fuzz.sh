#!/usr/bin/env bash
# Coverage-guided fuzzing of MountChain's parsers: SharpFuzz-instrumented assemblies under AFL++.
#   scripts/fuzz.sh TARGET [SECONDS]   fuzz one target (default 600 s) from fuzz/corpus/TARGET; findings
#                                      in fuzz/findings/TARGET (crashes/, hangs/, queue/); prints execs,
#                                      coverage and crashes, exits 1 if a crash was found
#   scripts/fuzz.sh --ci [SECONDS]     every target: replay its corpus with the rules, then fuzz it
#                                      SECONDS (default 5); writes "PASS|FAIL target" lines to
#                                      $FUZZ_SUMMARY when set; exits 1 on any failure
#   scripts/fuzz.sh --list             the targets
# A target fails on an exception other than a documented input error, more than 1 s on one input,
# or more than 64 MiB allocated for one input (fuzz/MountChain.Fuzz/Harness/FuzzCheck.cs).
# Long runs: nice -n 10 scripts/fuzz.sh xfs 3600 ; crashes become tests (tests/MountChain.Tests/Fuzz).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz=$root/fuzz
out=$fuzz/out
bin=$fuzz/MountChain.Fuzz/bin/Release/net10.0
inst=$out/instrumented

build() {
  dotnet build "$fuzz/MountChain.Fuzz" -c Release -v q -nologo >"$out/build.log" 2>&1 \
    || { cat "$out/build.log" >&2; echo "fuzz: build failed" >&2; exit 1; }
  # Instrument a copy, so that the normal build output stays plain.
  if [ ! -f "$inst/.stamp" ] || [ -n "$(find "$bin" -name 'MountChain.*.dll' -newer "$inst/.stamp" | head -1)" ]; then
    rm -rf "$inst"; mkdir -p "$inst"; cp -r "$bin"/. "$inst"/
    (cd "$root" && dotnet tool restore >/dev/null) || { echo "fuzz: dotnet tool restore (SharpFuzz.CommandLine) failed" >&2; exit 1; }
    for dll in MountChain.Core MountChain.FileSystems MountChain.Nbd; do
      (cd "$root" && dotnet tool run sharpfuzz "$inst/$dll.dll" >/dev/null) || { echo "fuzz: instrumenting $dll failed" >&2; exit 1; }
    done
    touch "$inst/.stamp"
  fi
}

targets() { dotnet "$bin/MountChain.Fuzz.dll" list | awk '{print $1}'; }

# stat FILE KEY: a value from AFL's fuzzer_stats.
stat() { awk -F' *: *' -v k="$2" '$1==k {print $2}' "$1" 2>/dev/null; }

run_afl() { # TARGET SECONDS -> 0 no crash, 1 crash
  local target=$1 seconds=$2 findings=$fuzz/findings/$1
  command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz not found (apt-get install afl++; scripts/install-deps.sh does)" >&2; return 1; }
  [ -d "$fuzz/corpus/$target" ] || { echo "fuzz: no corpus fuzz/corpus/$target" >&2; return 1; }
  rm -rf "$findings"; mkdir -p "$findings"
  # -t 5000: a backstop for endless loops (the harness itself fails an input over 1 s once jitted);
  # -m none: .NET reserves far more address space than AFL's default.
  AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    timeout -k 10 $((seconds + 60)) afl-fuzz -i "$fuzz/corpus/$target" -o "$findings" -t 5000 -m none -V "$seconds" \
      -- dotnet "$inst/MountChain.Fuzz.dll" afl "$target" >"$findings/afl.log" 2>&1
  local s=$findings/default/fuzzer_stats
  if [ ! -f "$s" ]; then
    echo "fuzz: $target: afl-fuzz did not start; see $findings/afl.log:" >&2; tail -5 "$findings/afl.log" >&2; return 1
  fi
  local crashes; crashes=$(find "$findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  local hangs; hangs=$(find "$findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  printf '%-17s %6ss %10s execs %8s/s  edges %6s  map %8s  corpus %5s  crashes %s  hangs %s\n' "$target" "$(stat "$s" run_time)" \
    "$(stat "$s" execs_done)" "$(stat "$s" execs_per_sec)" "$(stat "$s" edges_found)" "$(stat "$s" bitmap_cvg)" \
    "$(stat "$s" corpus_count)" "$crashes" "$hangs"
  local failed=0
  # A crash counts when the plain build reproduces it (the 1 s rule inside AFL can be a loaded machine's hiccup).
  if [ "$crashes" -gt 0 ] && ! dotnet "$bin/MountChain.Fuzz.dll" replay "$target" "$findings/default/crashes" >&2; then failed=1; fi
  # AFL's hangs include JIT warm-up on a loaded machine: a hang counts when the replay (which runs an input twice) confirms it.
  if [ "$hangs" -gt 0 ] && ! dotnet "$bin/MountChain.Fuzz.dll" replay "$target" "$findings/default/hangs" >&2; then failed=1; fi
  return $failed
}

mkdir -p "$out"
case "${1:-}" in
  ""|-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --list) build; dotnet "$bin/MountChain.Fuzz.dll" list ;;
  --ci)
    seconds=${2:-5}
    build
    rc=0
    for t in $(targets); do
      ok=1
      dotnet "$bin/MountChain.Fuzz.dll" replay "$t" "$fuzz/corpus/$t" >/dev/null || ok=0
      [ "$ok" = 1 ] && { run_afl "$t" "$seconds" || ok=0; }
      [ -n "${FUZZ_SUMMARY:-}" ] && echo "$([ "$ok" = 1 ] && echo PASS || echo FAIL) fuzz:$t" >>"$FUZZ_SUMMARY"
      [ "$ok" = 1 ] || { echo "fuzz: $t FAILED" >&2; rc=1; }
    done
    exit $rc ;;
  *)
    build
    target=$1
    targets | grep -qx "$target" || { echo "fuzz: no target '$target'; targets: $(targets | tr '\n' ' ')" >&2; exit 2; }
    run_afl "$target" "${2:-600}" ;;
esac
