#!/usr/bin/env bash
# Profiles imd under a pinned 1:1 load: imd on core 0, im_load on core 1 (taskset), a fresh data
# directory, default settings; `perf record -g` (cpu-clock) samples imd for PERF_SECONDS in the
# middle of the measured window. Leaves in OUT: load.out (im_load's summary and JSON line),
# perf.data, perf.top.txt (self time by symbol), perf.dso.txt (by library), perf.kernel.txt (the
# kernel's samples by call chain).
#
#   bench/profile_imd.sh OUT [im_load options...]
#   (default: --scenario direct --connections 1000 --rate 2 --duration 20 --warmup 5)
# Environment: IMD, LOAD (binaries; default build/release), PERF_SECONDS (8).
set -uo pipefail
out=${1:?usage: profile_imd.sh OUT [im_load options]}
shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--scenario direct --connections 1000 --rate 2 --duration 20 --warmup 5)
root=$(cd "$(dirname "$0")/.." && pwd)
IMD=${IMD:-$root/build/release/daemons/imd}
LOAD=${LOAD:-$root/build/release/bench/im_load}
PERF_SECONDS=${PERF_SECONDS:-8}
mkdir -p "$out"
data=$(mktemp -d /tmp/imd-profile.XXXXXX)
IM_PASSWORD_ITERATIONS=1000 taskset -c 0 "$IMD" --listen 127.0.0.1:0 --data-dir "$data" \
  --config "$root/bench/imd-bench.toml" >"$data.log" 2>&1 &
imd_pid=$!
port=
for _ in $(seq 100); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$data.log" 2>/dev/null | head -1 | sed 's/.*://')
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "imd did not start" >&2; kill $imd_pid; exit 2; }
taskset -c 1 "$LOAD" --target "127.0.0.1:$port" --server-pid "$imd_pid" "${args[@]}" >"$out/load.out" 2>"$out/load.err" &
load_pid=$!
# Wait for the load to start, then past the warm-up, then sample.
while kill -0 $load_pid 2>/dev/null && ! grep -qs '] load: ' "$out/load.err"; do sleep 0.2; done
sleep 8
if kill -0 $load_pid 2>/dev/null; then
  perf record -e cpu-clock -g -p "$imd_pid" -o "$out/perf.data" -- sleep "$PERF_SECONDS" >/dev/null 2>&1
fi
wait $load_pid
rc=$?
kill $imd_pid
wait $imd_pid 2>/dev/null
rm -rf "$data" "$data.log"
if [ -f "$out/perf.data" ]; then
  report() { perf report -i "$out/perf.data" --no-children --stdio "$@" 2>/dev/null; }
  report -g none --sort dso | grep '%' | tr -s ' ' | sed 's/ - -$//' >"$out/perf.dso.txt"
  report -g none --sort dso,symbol | grep '%' | tr -s ' ' | sed 's/ - -$//' | cut -c1-160 | head -60 >"$out/perf.top.txt"
  # Where the kernel's time comes from (context switches, futexes, syscalls): the call graph
  # of the kernel samples, callers folded.
  report -g caller,0.5,callee --sort dso --dsos '[kernel.kallsyms]' | grep -v '^$' | cut -c1-160 | head -60 >"$out/perf.kernel.txt"
fi
echo "im_load exit $rc"
grep -E 'ack |delivery |server|client|result' "$out/load.out"
