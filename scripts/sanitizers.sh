#!/usr/bin/env bash
# Runs the tests under the sanitizers (docs/testing.md, "Sanitizers").
#
#   scripts/sanitizers.sh [asan|tsan|all]        (default: all)
#
# asan: the `asan` preset (GCC, ASan + UBSan, -O1, build/asan) and, in it, the core tests
#       (im_core_tests), the stores (im_sqlite_tests, im_rocksdb_tests, im_postgres_tests), the
#       gateway over real sockets (im_beast_tests) and the end-to-end tests of imd (e2e.imd_*),
#       with LeakSanitizer on.
# tsan: the `tsan` preset (GCC, TSan, -O1, build/tsan) and, in it, the engine and the stores:
#       im_core_tests, im_sqlite_tests, im_rocksdb_tests, im_postgres_tests. Not the gateway, gRPC
#       or Kafka binaries: Beast is fine but gRPC, protobuf's arenas, librdkafka and RocksDB are
#       not built with TSan, and their threads synchronise in ways TSan cannot see.
#
# Builds only the targets these runs need (a cold build of one preset is ~15-20 minutes on two
# cores, which is why this is not part of scripts/check.sh / .ci/run: docs/decisions.md). Every
# sanitizer report is written to build/<preset>/sanitizer-logs/ (log_path), also those of
# processes whose exit status a test does not look at (imd under the e2e tests); a run fails when
# any test fails or any report was written. Prints a summary and exits 1 on any failure or report
# (2 for a usage or build error). Run after scripts/install-deps.sh (it does not install packages).
#
# Suppressions (only for code that is not ours, each with the reason): tests/sanitizers/lsan.supp,
# tests/sanitizers/tsan.supp. Environment: SAN_CTEST_ARGS=… more ctest arguments (e.g. "-R auth");
# SAN_LOCK=FILE takes `flock FILE` around each build and each test run (a machine shared by builds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

what=${1:-all}
case $what in
  asan) runs=(asan) ;;
  tsan) runs=(tsan) ;;
  all) runs=(asan tsan) ;;
  *) echo "usage: scripts/sanitizers.sh [asan|tsan|all]" >&2; exit 2 ;;
esac

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
supp=$root/tests/sanitizers

# The test binaries (CTest labels, tests/CMakeLists.txt) and extra targets of each run.
asan_binaries=(im_core_tests im_beast_tests im_sqlite_tests im_rocksdb_tests im_postgres_tests)
asan_extra=(imd)
asan_e2e='^e2e\.imd_'
# e2e.imd_fd_limit runs imd with 64 descriptors and fills them: the sanitizer runtime then needs
# descriptors itself (UBSan's vptr check probes memory through a pipe, reports open log_path) and
# reports a false "invalid vptr" on Boost.System's static error categories. Not run here.
asan_e2e_exclude='^e2e\.imd_fd_limit$'
tsan_binaries=(im_core_tests im_sqlite_tests im_rocksdb_tests im_postgres_tests)
tsan_extra=()
tsan_e2e=''
tsan_e2e_exclude='^$'

summary=()
failed=0
heavy() { if [[ -n ${SAN_LOCK:-} ]]; then flock "$SAN_LOCK" "$@"; else "$@"; fi; }

run_preset() {
  local preset=$1 dir=build/$1
  local -n binaries=${preset}_binaries extra=${preset}_extra e2e=${preset}_e2e e2e_exclude=${preset}_e2e_exclude
  local t0=$SECONDS
  cmake --preset "$preset" >/dev/null || exit 2
  # Only the targets this build has (a store whose library is missing is skipped, and said so).
  local have targets=()
  have=$(cmake --build "$dir" --target help | sed -n 's/^\([A-Za-z0-9_.+-]*\): .*/\1/p')
  for t in "${binaries[@]}" "${extra[@]}"; do
    if grep -qx "$t" <<<"$have"; then targets+=("$t"); else echo "sanitizers.sh: $preset: no target $t (skipped)"; fi
  done
  heavy cmake --build "$dir" --target "${targets[@]}" || exit 2
  local build_s=$((SECONDS - t0))

  local logs=$root/$dir/sanitizer-logs
  rm -rf "$logs" && mkdir -p "$logs"
  local common="halt_on_error=1:print_stacktrace=1:log_path=$logs/report"
  export UBSAN_OPTIONS="$common:print_summary=1"
  export ASAN_OPTIONS="$common:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0"
  # Slower code: the e2e harnesses' own timeouts stay; CTest's per-test limit is doubled.
  local labels
  labels=$(IFS='|'; echo "^(${targets[*]})\$")
  local t1=$SECONDS rc=0 out=$root/$dir/sanitizers-ctest.log
  heavy ctest --test-dir "$dir" -j2 --output-on-failure --timeout 600 -L "$labels" ${SAN_CTEST_ARGS:-} 2>&1 | tee "$out" || rc=$?
  if [[ -n $e2e ]]; then
    heavy ctest --test-dir "$dir" -j2 --output-on-failure -R "$e2e" -E "$e2e_exclude" ${SAN_CTEST_ARGS:-} 2>&1 | tee -a "$out" || rc=$?
  fi
  local test_s=$((SECONDS - t1))
  local counts
  counts=$(grep -E '^[0-9]+% tests passed' "$out" | sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+)/\1 \2/' |
           awk '{f+=$1; n+=$2} END {printf "%d tests, %d failed", n, f}')
  local reports
  reports=$(find "$logs" -type f | wc -l)
  local verdict=clean
  if [[ $rc != 0 || $reports != 0 ]]; then verdict=FAILED; failed=1; fi
  summary+=("$(printf '%-5s %s; %d sanitizer report file(s); build %ds, tests %ds: %s' "$preset" "$counts" "$reports" "$build_s" "$test_s" "$verdict")")
  if [[ $reports != 0 ]]; then
    for f in "$logs"/*; do
      summary+=("      $f: $(grep -m1 -E 'ERROR: |runtime error|WARNING: ThreadSanitizer' "$f" || head -1 "$f")")
    done
  fi
}

for p in "${runs[@]}"; do run_preset "$p"; done
echo
echo "sanitizers.sh summary"
printf '%s\n' "${summary[@]}"
exit $failed
