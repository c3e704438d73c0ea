#!/usr/bin/env bash
# Fuzzes libim's parsers with libFuzzer (docs/testing.md, "Fuzzing").
#
#   scripts/fuzz.sh [SECONDS | -runs=N] [TARGET...]
#
# Builds the fuzz targets (CMake preset `fuzz`: clang-16 with ASan and UBSan, in build/fuzz; the
# Debian packages clang-16, libfuzzer-16-dev and libclang-rt-16-dev, which scripts/install-deps.sh
# installs) and runs each TARGET (default: all of them) for SECONDS (default 60) or for N inputs.
# Targets: frame_json frame_binary rest query jwt toml_config rocksdb_codec bus_records
# websocket_frames (tests/fuzz/<target>_fuzz.cc).
#
# Each run starts from the seed corpus in the repository (tests/fuzz/corpus/<target>) and from
# what earlier runs on this machine found (build/fuzz/corpus/<target>, kept between runs, not
# committed), with the target's dictionary (tests/fuzz/dict/<target>.dict) when it has one. A
# finding (crash, sanitizer report, leak, an input slower than 10 s, more than 2 GiB of memory)
# stops its target and is written to build/fuzz/findings/<target>/; reproduce it with
# `build/fuzz/tests/fuzz/im_fuzz_<target> <file>`, then add it to the seed corpus with the fix.
#
# Prints per target the executions, executions per second, coverage and the verdict, and exits 1
# when any target had a finding (2 for a usage or build error). Environment:
#   FUZZ_JOBS=N    targets fuzzed at once (default 1; one core each)
#   FUZZ_FLAGS=…   more libFuzzer flags, e.g. "-max_len=16384"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

all_targets=(frame_json frame_binary rest query jwt toml_config rocksdb_codec bus_records websocket_frames)
budget=(-max_total_time=60)
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  budget=(-max_total_time="$1")
  shift
elif [[ $# -gt 0 && $1 =~ ^-runs=[0-9]+$ ]]; then
  budget=("$1")
  shift
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
command -v clang++-16 >/dev/null || { echo "fuzz.sh: clang++-16 missing (scripts/install-deps.sh)" >&2; exit 2; }
cmake --preset fuzz >/dev/null || exit 2
cmake --build build/fuzz --target $(printf 'im_fuzz_%s ' "${targets[@]}") || exit 2

out=build/fuzz/runs
mkdir -p "$out"
run_one() {
  local t=$1 bin=build/fuzz/tests/fuzz/im_fuzz_$1
  local corpus=build/fuzz/corpus/$t findings=build/fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  local dict=()
  [[ -f tests/fuzz/dict/$t.dict ]] && dict=(-dict=tests/fuzz/dict/$t.dict)
  local rc=0
  "$bin" "${budget[@]}" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$findings/" ${FUZZ_FLAGS:-} "$corpus" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$out/$t.rc"
}

jobs=${FUZZ_JOBS:-1}
for t in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n || true; done
  echo "fuzz.sh: $t (${budget[*]})"
  run_one "$t" &
done
wait

failed=0
printf '\n%-14s %14s %10s %8s %8s  %s\n' target executions exec/s cov corpus result
for t in "${targets[@]}"; do
  log=$out/$t.log
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  result=ok
  if [[ $(cat "$out/$t.rc") != 0 ]]; then
    failed=1
    artifact=$(grep -o "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    result="FINDING: $(grep -m1 -oE 'ERROR: [A-Za-z]+: [^ ]+.*|FUZZ_CHECK failed.*|ERROR: libFuzzer: .*' "$log" || echo "exit $(cat "$out/$t.rc")") ${artifact:+($artifact)}"
  fi
  printf '%-14s %14s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${corp:-?}" "$result"
done
echo "logs: $out/<target>.log"
exit $failed
