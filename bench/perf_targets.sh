#!/usr/bin/env bash
# The performance targets of the issue, each measured the same way every time (docs/performance.md).
#
#   bench/perf_targets.sh OUT [scenario...]             full runs (default: every scenario)
#   SMOKE=1 bench/perf_targets.sh OUT [scenario...]     or: bench/perf_targets.sh --smoke OUT ...
#
# Scenarios (the issue's targets; imd pinned to core 0, im_load to core 1, loopback only; every
# imd scenario also fails its runs' "errors + missing + unacked + closes = 0" check when it loses):
#   direct1k    1:1 durable messages, 1,000 conns x 1 msg/s = 1,000 msg/s (1,000 x 1 rather than
#               500 x 2: more sessions, the same rate): imd CPU us/message (<= 150), ack and
#               delivery p50/p99
#   direct5k    1:1, 1,000 conns x 5 msg/s = 5,000 msg/s (the issue's second row): acked msg/s,
#               imd CPU us/message, latencies (no target of its own: a sustainable load)
#   direct10k   1:1, 2,000 conns x 5 msg/s = 10,000 msg/s offered: acked msg/s, imd CPU us/message
#               (<= 50), ack and delivery p99 (<= 20 ms)
#   direct-max  1:1, 4,000 conns x 5 msg/s = 20,000 msg/s offered: acked msg/s (>= 20,000), i.e.
#               the saturation throughput on one core when it is below the offer; CPU us/message
#   group1k     one group of 1,000 members, 10 senders x 40 msg/s = 399,600 deliveries/s offered:
#               as fast as one im_load core reads them (it speaks WebSocket over the bare socket
#               and reads a delivery without a JSON parse: ~94 % of its core at this rate; check
#               its CPU, it is the bottleneck above this): deliveries/s, imd CPU us/delivery
#               (<= 1.6), delivery p99
#   idle19k     19,000 idle authenticated WebSockets (0.01 msg/s each for 10 s, i.e. ~10 % send
#               once; --connect-concurrency 256): imd kB/connection (<= 4; im_load's RSS growth
#               over its connect phase) and upgrades/s (>= 15,000; im_load's connections/s, each an
#               authenticated upgrade answered by a pong). With IDLE_PROCS > 1 the connections are
#               split over several im_load processes started one after the other (each once the
#               previous one is connected), figures weighted by connections.
#   both-cores  BOTH_SCENARIOS (direct10k group1k) again with imd on both cores (taskset -c 0,1)
#               while im_load stays pinned to core 1, so imd's second core is shared with the
#               generator (the ratio is a lower bound): throughput ratio against the one-core runs
#               in the same OUT (>= 1.7). At a fixed offered load the ratio cannot exceed
#               offered / one-core throughput: add direct-max to BOTH_SCENARIOS for a capacity ratio.
#   stores      the store append benchmarks (sqlite_append_bench, rocksdb_append_bench) with no
#               filter, so every benchmark they register (--benchmark_list_tests is checked against
#               the JSON), REPS repetitions, not pinned: appends/s (items_per_second, or a counter
#               named *per_s*) >= 100,000 for every case but the 1-sender ones (shown, not judged)
#   split       the split deployment of bench/split_baseline.py (its deployment, pids and CPU
#               accounting; nothing pinned), 500 conns x 1 msg/s: CPU us per message summed over
#               every server process (<= 500), over warmup + load + drain (the CPU from the
#               start, registration and connecting included, is kept as server_cpu_s_with_setup).
#
# Each imd run: a fresh `IM_PASSWORD_ITERATIONS=1000 imd --listen 127.0.0.1:0 --data-dir $(mktemp -d)
# --config bench/imd-bench.toml` (defaults otherwise: the file only lifts the per-address auth
# throttle, since every simulated user logs in from 127.0.0.1), im_load with --server-pid (imd's CPU and RSS from /proc; CPU per message =
# imd's CPU over warmup + load + drain / every acked message) under /usr/bin/time (im_load's own
# CPU), then imd is stopped. Every process has a time bound (imd runs under timeout -s KILL, so
# it ends even if this script is killed).
#
# Output: OUT/results.json (every run's raw numbers, median/min/max per metric, target, met) and
# OUT/results.md (the table); raw files in OUT/runs/. A scenario run again replaces its earlier
# runs in OUT; the others stay, so scenarios can be run one at a time into one OUT (both-cores
# compares against direct10k/group1k found there).
# Exit code: 0 when every run completed (targets missed are reported, not failures); 1 when a run
# did not complete. SMOKE: tiny sizes (20 connections, 2 s, 1 rep, no pinning), default scenarios
# all but stores and split, and exit 1 unless every run finished with no error and no loss.
#
# Environment: IMD, LOAD (default: build/release binaries copied to a temp dir first), BUILD
# (build/release), REPS (3; smoke 1), DURATION (30; smoke 2), WARMUP (5; smoke 0.5), THREADS (1:
# im_load io threads), SERVER_CPUS (0; smoke: no pinning), LOAD_CPUS (1; smoke: none),
# BOTH_SERVER_CPUS (0,1), BOTH_LOAD_CPUS (= LOAD_CPUS), BOTH_SCENARIOS ("direct10k group1k"; add
# direct-max for a capacity ratio), IDLE_CONNECTIONS (19000), IDLE_PROCS (im_load processes for
# idle19k: 1 when RLIMIT_NOFILE allows, else enough; smoke 2), STORE_BENCHES ("sqlite_append_bench
# rocksdb_append_bench"; names in BUILD/bench or paths), STORE_MIN_TIME (2; smoke 0.01),
# PYTHON (/usr/bin/python3 when it exists, else python3). OUT can also be given as $OUT.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
report=$here/perf_targets_report.py

smoke=${SMOKE:-0}
[ "$smoke" = 0 ] || smoke=1
positional=()
for a in "$@"; do
  case $a in
    --smoke) smoke=1 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "perf_targets.sh: unknown option $a (see --help)" >&2; exit 2 ;;
    *) positional+=("$a") ;;
  esac
done
out=${positional[0]:-${OUT:-/tmp/perf-targets}}
scenarios=("${positional[@]:1}")
all_scenarios=(direct1k direct5k direct10k direct-max group1k idle19k both-cores stores split)
if [ ${#scenarios[@]} -eq 0 ]; then
  if [ "$smoke" = 1 ]; then
    scenarios=(direct1k direct5k direct10k direct-max group1k idle19k both-cores)
  else
    scenarios=("${all_scenarios[@]}")
  fi
fi
for s in "${scenarios[@]}"; do
  case " ${all_scenarios[*]} " in *" $s "*) ;; *) echo "perf_targets.sh: unknown scenario $s" >&2; exit 2 ;; esac
done

BUILD=${BUILD:-$root/build/release}
if [ "$smoke" = 1 ]; then
  REPS=${REPS:-1}
  DURATION=${DURATION:-2}
  WARMUP=${WARMUP:-0.5}
  SERVER_CPUS=${SERVER_CPUS-}
  LOAD_CPUS=${LOAD_CPUS-}
  BOTH_SERVER_CPUS=${BOTH_SERVER_CPUS-}
  IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-20}
  IDLE_PROCS=${IDLE_PROCS:-2}  # exercises the several-process path
  STORE_MIN_TIME=${STORE_MIN_TIME:-0.01}
else
  REPS=${REPS:-3}
  DURATION=${DURATION:-30}
  WARMUP=${WARMUP:-5}
  SERVER_CPUS=${SERVER_CPUS-0}
  LOAD_CPUS=${LOAD_CPUS-1}
  BOTH_SERVER_CPUS=${BOTH_SERVER_CPUS-0,1}
  IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-19000}
  STORE_MIN_TIME=${STORE_MIN_TIME:-2}
fi
BOTH_LOAD_CPUS=${BOTH_LOAD_CPUS-$LOAD_CPUS}
BOTH_SCENARIOS=${BOTH_SCENARIOS:-direct10k group1k}
THREADS=${THREADS:-1}
STORE_BENCHES=${STORE_BENCHES:-sqlite_append_bench rocksdb_append_bench}
DRAIN=${DRAIN:-5}
# Debian's python3 has python3-websockets (the split harness needs it); a pyenv one first on PATH
# may not.
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree
SETUP_TIMEOUT=${SETUP_TIMEOUT:-300}

runs=$out/runs
mkdir -p "$runs" || exit 2

# ---- binaries: private copies, so a rebuild during the run cannot change them ----
bindir=$(mktemp -d /tmp/perf-targets-bin.XXXXXX)
current_data=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  # Only this shell's own background jobs still running (imd, timeout around im_load, ...).
  local p left
  left=$(jobs -pr)
  if [ -n "$left" ]; then
    for p in $left; do kill "$p" 2>/dev/null; done
    sleep 1
    for p in $(jobs -pr); do kill -9 "$p" 2>/dev/null; done
  fi
  rm -rf "$bindir"
  [ -n "$current_data" ] && rm -rf "$current_data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

copy_bin() {  # copy_bin SRC NAME -> prints the copy's path
  [ -x "$1" ] || { echo "perf_targets.sh: $1 is not built" >&2; return 1; }
  cp "$1" "$bindir/$2" && echo "$bindir/$2"
}
needs_imd=0
for s in "${scenarios[@]}"; do
  case $s in stores | split) ;; *) needs_imd=1 ;; esac
done
if [ "$needs_imd" = 1 ]; then
  [ -n "${IMD:-}" ] || IMD=$(copy_bin "$BUILD/daemons/imd" imd) || exit 2
  [ -n "${LOAD:-}" ] || LOAD=$(copy_bin "$BUILD/bench/im_load" im_load) || exit 2
  for b in "$IMD" "$LOAD"; do [ -x "$b" ] || { echo "perf_targets.sh: $b is not executable" >&2; exit 2; }; done
fi
for c in ${SERVER_CPUS//,/ } ${LOAD_CPUS//,/ } ${BOTH_SERVER_CPUS//,/ } ${BOTH_LOAD_CPUS//,/ }; do
  if ! taskset -c "$c" true 2>/dev/null; then
    echo "perf_targets.sh: cannot pin to CPU $c (nproc $(nproc)); set SERVER_CPUS/LOAD_CPUS" >&2
    exit 2
  fi
done

# Whether our child PID still runs.
alive() { kill -0 "$1" 2>/dev/null; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
cpu_s() {  # utime + stime of a process, seconds
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return
  echo "${stat##*) }" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}'
}

# ---- one imd run: fresh imd, NPROCS im_load processes, stop imd ----
# run_imd NAME REP SERVER_CPUS LOAD_CPUS NPROCS IM_LOAD_ARGS...
# With NPROCS > 1 the args must hold `--connections N`: each process gets its share, and each
# starts once the previous one has all its WebSockets open (its "load:" line), so that its kB per
# connection is measured while the others are idle.
run_imd() {
  local name=$1 rep=$2 scpus=$3 lcpus=$4 nprocs=$5
  shift 5
  local args=("$@")
  local base=$runs/$name-$rep
  local data wrapper imd_pid port t_start i p

  # Split --connections over the processes; the bounds.
  local total=0 duration_idx=-1 duration=0 shares=() load_pids=()
  for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = --connections ] && total=${args[$((i + 1))]}
    [ "${args[$i]}" = --duration ] && { duration_idx=$((i + 1)); duration=${args[$((i + 1))]}; }
  done
  if [ "$nprocs" -gt 1 ]; then
    local each=$(((total / nprocs) / 2 * 2))
    for ((p = 1; p < nprocs; p++)); do shares+=("$each"); done
    shares+=($((total - each * (nprocs - 1))))
  else
    shares=("$total")
  fi
  # Later processes need setup time while the earlier ones stay connected: give each earlier
  # process that much more load time (register + login ~300/s and connect on a busy box, + slack).
  local stagger=$(((shares[0] + 299) / 300 + 15)) bound imd_bound
  [ "$smoke" = 1 ] && stagger=5
  bound=$(awk -v s="$SETUP_TIMEOUT" -v w="$WARMUP" -v d="$duration" -v r="$DRAIN" -v n="$nprocs" -v g="$stagger" \
    'BEGIN {printf "%d", s + w + d + r + (n - 1) * g + 60}')   # one im_load process
  imd_bound=$((bound * nprocs + 60))                           # imd, even if this script is killed

  rm -f "$base".*
  data=$(mktemp -d /tmp/perf-targets-data.XXXXXX)
  current_data=$data
  {
    echo "name=$name"
    echo "rep=$rep"
    echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "server_cpus=$scpus"
    echo "load_cpus=$lcpus"
    echo "nprocs=$nprocs"
    echo "args=${args[*]}"
    echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    if [ "$smoke" = 0 ]; then
      echo "dsync_4k=$(dd if=/dev/zero of="$data/dd" bs=4k count=100 oflag=dsync 2>&1 | tail -1)"
      rm -f "$data/dd"
    fi
  } >"$base.meta"
  t_start=$(date +%s.%N)
  # timeout: imd gets SIGTERM from us (forwarded), SIGKILL at its bound whatever happens to us.
  (
    export IM_PASSWORD_ITERATIONS=1000
    exec timeout -s KILL "$imd_bound" bash -c \
      'cpus=$1; shift; if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi' _ "$scpus" \
      "$IMD" --listen 127.0.0.1:0 --data-dir "$data" --config "$here/imd-bench.toml"
  ) >"$base.imd.log" 2>&1 &
  wrapper=$!
  port=
  imd_pid=
  for _ in $(seq 100); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$base.imd.log" 2>/dev/null | head -1 | sed 's/.*://')
    [ -n "$port" ] && break
    alive "$wrapper" || break
    sleep 0.1
  done
  [ -n "$port" ] && imd_pid=$(pgrep -P "$wrapper" | head -1)
  if [ -z "$port" ] || [ -z "$imd_pid" ]; then
    echo "$name run $rep: imd did not start (see $base.imd.log)" >&2
    echo "error=imd did not start" >>"$base.meta"
    kill -9 "$wrapper" 2>/dev/null
    [ -n "$imd_pid" ] && kill -9 "$imd_pid" 2>/dev/null
    wait "$wrapper" 2>/dev/null
    rm -rf "$data"
    return 1
  fi
  {
    echo "imd_pid=$imd_pid"
    echo "rss_before_kb=$(rss_kb "$imd_pid")"
    echo "imd_cpu_before_s=$(cpu_s "$imd_pid")"
  } >>"$base.meta"

  for ((p = 1; p <= nprocs; p++)); do
    local pargs=("${args[@]}")
    if [ "$nprocs" -gt 1 ]; then
      for ((i = 0; i < ${#pargs[@]}; i++)); do
        [ "${pargs[$i]}" = --connections ] && pargs[i + 1]=${shares[$((p - 1))]}
      done
      [ "$duration_idx" -ge 0 ] && pargs[duration_idx]=$(awk -v d="$duration" -v k=$((nprocs - p)) -v g="$stagger" \
        'BEGIN {print d + k * g}')
    fi
    echo "p${p}_args=${pargs[*]}" >>"$base.meta"
    timeout -k 10 "$bound" /usr/bin/time -o "$base.p$p.time" -f 'time wall=%e user=%U sys=%S maxrss_kb=%M' \
      bash -c 'cpus=$1; shift; if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi' _ "$lcpus" \
      "$LOAD" --target "127.0.0.1:$port" --server-pid "$imd_pid" --threads "$THREADS" \
      --prefix "$(echo "${name//[^a-z0-9]/}" | cut -c1-12)r${rep}p$p" --drain "$DRAIN" \
      --setup-timeout "$SETUP_TIMEOUT" "${pargs[@]}" >"$base.p$p.out" 2>"$base.p$p.err" &
    load_pids+=($!)
    # Wait for this process's WebSockets (its "] load: " line; not "im_load:") before the next.
    while alive "${load_pids[-1]}" && ! grep -qs '\] load: ' "$base.p$p.err"; do sleep 0.2; done
  done
  # Every process has connected (or ended): imd's RSS with all connections open.
  sleep 1
  local still=0
  for p in "${load_pids[@]}"; do alive "$p" && still=$((still + 1)); done
  echo "all_open_at_once=$([ "$still" = "$nprocs" ] && echo 1 || echo 0)" >>"$base.meta"
  echo "rss_all_connected_kb=$(rss_kb "$imd_pid")" >>"$base.meta"
  local rc load_rcs=()
  for ((p = 1; p <= nprocs; p++)); do
    wait "${load_pids[$((p - 1))]}"
    rc=$?
    load_rcs+=("$rc")
    echo "p${p}_exit=$rc" >>"$base.meta"
  done
  curl -s -m 10 "http://127.0.0.1:$port/metrics" >"$base.metrics"
  {
    echo "imd_cpu_after_s=$(cpu_s "$imd_pid")"
    echo "imd_rss_end_kb=$(rss_kb "$imd_pid")"
    echo "wall_s=$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')"
  } >>"$base.meta"
  kill "$wrapper" 2>/dev/null  # timeout forwards the SIGTERM to imd
  for _ in $(seq 100); do alive "$wrapper" || break; sleep 0.1; done
  if alive "$wrapper"; then
    echo "imd_killed=1" >>"$base.meta"
    kill -9 "$imd_pid" "$wrapper" 2>/dev/null
  fi
  wait "$wrapper" 2>/dev/null
  rm -rf "$data"
  current_data=
  for ((p = 1; p <= nprocs; p++)); do
    echo "$name run $rep$([ "$nprocs" -gt 1 ] && echo " process $p"): exit ${load_rcs[$((p - 1))]}; $(tail -1 "$base.p$p.out" | cut -c1-300)"
  done
  return 0
}

# ---- scenario parameters ----
if [ "$smoke" = 1 ]; then
  direct1k_args=(--scenario direct --connections 20 --rate 1)
  direct5k_args=(--scenario direct --connections 20 --rate 2)
  direct10k_args=(--scenario direct --connections 20 --rate 5)
  directmax_args=(--scenario direct --connections 20 --rate 10)
  group1k_args=(--scenario group --members 20 --senders 2 --rate 20)
else
  direct1k_args=(--scenario direct --connections 1000 --rate 1)
  direct5k_args=(--scenario direct --connections 1000 --rate 5)
  direct10k_args=(--scenario direct --connections 2000 --rate 5)
  directmax_args=(--scenario direct --connections 4000 --rate 5)
  group1k_args=(--scenario group --members 1000 --senders 10 --rate 40)
fi
timing=(--duration "$DURATION" --warmup "$WARMUP")
args_of() {
  case $1 in
    direct1k) echo "${direct1k_args[*]} ${timing[*]}" ;;
    direct5k) echo "${direct5k_args[*]} ${timing[*]}" ;;
    direct10k) echo "${direct10k_args[*]} ${timing[*]}" ;;
    direct-max) echo "${directmax_args[*]} ${timing[*]}" ;;
    group1k) echo "${group1k_args[*]} ${timing[*]}" ;;
  esac
}

idle_procs() {
  if [ -n "${IDLE_PROCS:-}" ]; then echo "$IDLE_PROCS"; return; fi
  local lim per
  lim=$(ulimit -Hn)
  [ "$lim" = unlimited ] && { echo 1; return; }
  per=$((lim - 8 - 64 - 16))  # im_load needs connections + --http-connections + 64 files
  [ "$per" -gt 19000 ] && per=19000
  echo $(((IDLE_CONNECTIONS + per - 1) / per))
}

failed=0
run_scenario() {
  local s=$1 rep=$2 sub
  case $s in
    direct1k | direct5k | direct10k | direct-max | group1k)
      # shellcheck disable=SC2046
      run_imd "$s" "$rep" "$SERVER_CPUS" "$LOAD_CPUS" 1 $(args_of "$s") || failed=1 ;;
    idle19k)
      local idle_duration=10
      [ "$smoke" = 1 ] && idle_duration=2
      run_imd idle19k "$rep" "$SERVER_CPUS" "$LOAD_CPUS" "$(idle_procs)" --scenario direct \
        --connections "$IDLE_CONNECTIONS" --rate 0.01 --duration "$idle_duration" --warmup 0 \
        --connect-concurrency 256 || failed=1 ;;
    both-cores)
      for sub in $BOTH_SCENARIOS; do
        # shellcheck disable=SC2046
        run_imd "both-cores.$sub" "$rep" "$BOTH_SERVER_CPUS" "$BOTH_LOAD_CPUS" 1 $(args_of "$sub") || failed=1
      done ;;
  esac
}

run_stores() {
  local name path base rc
  for name in $STORE_BENCHES; do
    case $name in
      */*) path=$name; name=$(basename "$name") ;;
      *) path=$BUILD/bench/$name ;;
    esac
    base=$runs/stores.$name
    rm -f "$base".*
    if ! path=$(copy_bin "$path" "$name"); then
      echo "error=not built: $path" >"$base.meta"
      failed=1
      continue
    fi
    {
      echo "name=stores.$name"
      echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$base.meta"
    "$path" --benchmark_list_tests >"$base.list" 2>/dev/null
    echo "listed=$(paste -sd' ' "$base.list")" >>"$base.meta"
    # No filter: every benchmark the program registers, REPS repetitions each.
    timeout -k 10 "$([ "$smoke" = 1 ] && echo 120 || echo 1800)" /usr/bin/time -o "$base.time" \
      -f 'time wall=%e user=%U sys=%S maxrss_kb=%M' "$path" --benchmark_repetitions="$REPS" \
      --benchmark_min_time="$STORE_MIN_TIME" --benchmark_out="$base.json" --benchmark_out_format=json \
      >"$base.out" 2>"$base.err"
    rc=$?
    echo "exit=$rc" >>"$base.meta"
    [ "$rc" = 0 ] || failed=1
    echo "stores $name: exit $rc; $(grep -c '"run_type": "iteration"' "$base.json" 2>/dev/null) runs"
  done
}

run_split() {
  local rep=$1 mirror=$bindir/split-build f
  # A private copy of what split_baseline.py runs, laid out like the build tree.
  if [ ! -d "$mirror" ]; then
    mkdir -p "$mirror/daemons" "$mirror/src/kafka" "$mirror/bench"
    for f in daemons/im-gateway daemons/im-logic daemons/im-repo daemons/im-task src/kafka/im-kafka-mock bench/im_load; do
      if [ ! -x "$BUILD/$f" ]; then
        echo "split: $BUILD/$f is not built" >&2
        echo "error=not built: $BUILD/$f" >"$runs/split-$rep.meta"
        failed=1
        return
      fi
      cp "$BUILD/$f" "$mirror/$f"
    done
  fi
  rm -f "$runs/split-$rep".*
  {
    echo "name=split"
    echo "rep=$rep"
    echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "args=--scenario direct --connections 500 --rate 1 ${timing[*]}"
  } >"$runs/split-$rep.meta"
  timeout -k 60 900 "$PYTHON" "$report" split "$runs" "$rep" "$mirror" --scenario direct --connections 500 --rate 1 "${timing[@]}" \
    >"$runs/split-$rep.log" 2>&1
  local rc=$?
  echo "exit=$rc" >>"$runs/split-$rep.meta"
  [ "$rc" = 0 ] || failed=1
  echo "split run $rep: exit $rc; $(tail -2 "$runs/split-$rep.log" | head -1 | cut -c1-300)"
}

echo "perf_targets: OUT=$out smoke=$smoke REPS=$REPS scenarios: ${scenarios[*]}"
[ "$needs_imd" = 1 ] && echo "  imd $IMD ($(sha256sum "$IMD" | cut -c1-16)), im_load $LOAD; server cpus '${SERVER_CPUS}', load cpus '${LOAD_CPUS}'"
{
  echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "smoke=$smoke"
  echo "reps=$REPS"
  echo "scenarios=${scenarios[*]}"
  echo "nproc=$(nproc)"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$needs_imd" = 1 ]; then
    echo "imd=${IMD} sha256=$(sha256sum "$IMD" | cut -c1-16)"
    echo "im_load=${LOAD} sha256=$(sha256sum "$LOAD" | cut -c1-16)"
  fi
} >"$out/invocation.txt"

wants() { case " ${scenarios[*]} " in *" $1 "*) return 0 ;; esac; return 1; }
if wants split && [ "$smoke" = 1 ]; then
  echo "perf_targets: split is skipped in smoke mode (it starts PostgreSQL, Redis and 6 services)"
fi
# A scenario run again replaces all its earlier runs in OUT.
for s in "${scenarios[@]}"; do
  case $s in
    both-cores) rm -f "$runs"/both-cores.* ;;
    stores) rm -f "$runs"/stores.* ;;
    split) [ "$smoke" = 1 ] || rm -f "$runs"/split-* ;;
    *) rm -f "$runs/$s"-[0-9]*.* ;;
  esac
done
for rep in $(seq "$REPS"); do
  for s in "${scenarios[@]}"; do
    case $s in
      stores) ;;
      split) [ "$smoke" = 1 ] || run_split "$rep" ;;
      *) run_scenario "$s" "$rep" ;;
    esac
  done
done
wants stores && run_stores

check=()
reported=()
for s in "${scenarios[@]}"; do
  [ "$smoke" = 1 ] && [ "$s" = split ] && continue
  reported+=("$s")
done
[ "$smoke" = 1 ] && check=(--check)
"$PYTHON" "$report" report "$out" "${check[@]}" --reps "$REPS" --both "$BOTH_SCENARIOS" \
  --scenarios "${reported[@]}" || failed=1
echo "perf_targets: $out/results.md, $out/results.json"
exit "$failed"
