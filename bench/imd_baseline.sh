#!/usr/bin/env bash
# The imd load baseline (docs/performance.md): each scenario REPS times, each run against a fresh
# imd on a fresh data directory, im_load sampling imd's RSS and CPU through --server-pid.
#
#   cp build/release/daemons/imd /tmp/imd-bench     # a binary nobody rebuilds under the run
#   bench/imd_baseline.sh /tmp/imd-baseline [scenario...]
#
# Scenarios: direct2k, direct2k-quarter, idle10k, group500 (default: all); customNAME takes im_load's options from
# $ARGS. Each run leaves NAME-N.out (the summary and the JSON line), NAME-N.err (progress),
# NAME-N.env (load average, a synced-write probe), NAME-N.top (top -b -n1 in the middle of the
# load) and NAME-N.metrics (imd's /metrics after the run) in the output directory. Environment: IMD
# (/tmp/imd-bench), LOAD (build/release/bench/im_load), REPS (3), THREADS (1: client io threads),
# IMD_CONFIG (a TOML file passed to imd, e.g. to turn search off; default bench/imd-bench.toml, whose
# [limits] line a file of your own should keep: every simulated user logs in from 127.0.0.1).
set -uo pipefail

out=${1:-/tmp/imd-baseline}
shift || true
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(direct2k direct2k-quarter idle10k group500)
IMD=${IMD:-/tmp/imd-bench}
LOAD=${LOAD:-$(dirname "$0")/../build/release/bench/im_load}
REPS=${REPS:-3}
THREADS=${THREADS:-1}
mkdir -p "$out"

args_of() {
  case $1 in
    direct2k) echo "--scenario direct --connections 2000 --rate 1 --duration 30 --warmup 5" ;;
    direct2k-quarter) echo "--scenario direct --connections 2000 --rate 0.25 --duration 30 --warmup 5" ;;
    idle10k) echo "--scenario direct --connections 10000 --rate 0.1 --duration 30 --warmup 10" ;;
    group500) echo "--scenario group --members 500 --senders 5 --rate 2 --duration 30 --warmup 5" ;;
    custom*) echo "$ARGS" ;;  # e.g. ARGS="--connections 2000 --rate 0.5" bench/imd_baseline.sh OUT custom-r0.5
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}

run_one() {
  local name=$1 rep=$2
  local data imd_pid port load_pid rc
  data=$(mktemp -d /tmp/imd-baseline-data.XXXXXX)
  # The state of the box: load average, and what one synced 4 KiB write costs on the data disk.
  {
    echo "loadavg $(cat /proc/loadavg)"
    dd if=/dev/zero of="$data/dd" bs=4k count=100 oflag=dsync 2>&1 | tail -1
    rm -f "$data/dd"
  } >"$out/$name-$rep.env"
  local config=()
  # Default: lift the per-address auth throttle (every simulated user logs in from 127.0.0.1).
  config=(--config "${IMD_CONFIG:-$(dirname "$0")/imd-bench.toml}")
  IM_PASSWORD_ITERATIONS=1000 "$IMD" --listen 127.0.0.1:0 --data-dir "$data" "${config[@]}" >"$data.log" 2>&1 &
  imd_pid=$!
  for _ in $(seq 100); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$data.log" 2>/dev/null | head -1 | sed 's/.*://')
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "imd did not start" >&2
    kill "$imd_pid" 2>/dev/null
    rm -rf "$data" "$data.log"
    return 1
  fi
  # shellcheck disable=SC2046
  "$LOAD" --target "127.0.0.1:$port" --server-pid "$imd_pid" --threads "$THREADS" --prefix "b$rep" \
    $(args_of "$name") >"$out/$name-$rep.out" 2>"$out/$name-$rep.err" &
  load_pid=$!
  # One snapshot of the whole box in the middle of the measured window.
  (
    while kill -0 "$load_pid" 2>/dev/null && ! grep -qs '] load: ' "$out/$name-$rep.err"; do sleep 0.5; done
    sleep 20
    kill -0 "$load_pid" 2>/dev/null && top -b -n1 -w 160 | head -20 >"$out/$name-$rep.top"
  ) &
  wait "$load_pid"
  rc=$?
  curl -s "http://127.0.0.1:$port/metrics" >"$out/$name-$rep.metrics"
  kill "$imd_pid"
  wait "$imd_pid" 2>/dev/null
  rm -rf "$data" "$data.log"
  echo "$name run $rep: exit $rc; $(tail -1 "$out/$name-$rep.out")"
}

for rep in $(seq "$REPS"); do
  for s in "${scenarios[@]}"; do
    run_one "$s" "$rep"
  done
done
