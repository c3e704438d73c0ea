#!/usr/bin/python3
"""The split deployment under im_load, next to imd on the same load (docs/performance.md).

Each run starts a fresh split deployment (tests/e2e/split_harness.py: PostgreSQL, Redis, the Kafka
mock, im-repo, im-logic, im-task, two im-gateways), points im_load at both gateways (WebSockets
round robin, so the two users of a direct pair sit on different gateways), and records im_load's
JSON line plus the CPU seconds each server process used during the run.

  bench/split_baseline.py OUT_DIR [scenario...]      scenarios: direct2k, direct2k-quarter, direct2k-tenth, group500
                                                      (default: all)
  environment: REPS (3), BUILD (build/release)
"""
import json
import os
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "e2e"))
from split_harness import SplitDeployment  # noqa: E402

SCENARIOS = {
    "direct2k": ["--scenario", "direct", "--connections", "2000", "--rate", "1", "--duration", "30", "--warmup", "5"],
    "direct2k-quarter": ["--scenario", "direct", "--connections", "2000", "--rate", "0.25", "--duration", "30",
                         "--warmup", "5"],
    "direct2k-tenth": ["--scenario", "direct", "--connections", "2000", "--rate", "0.1", "--duration", "30",
                       "--warmup", "5"],
    "group500": ["--scenario", "group", "--members", "500", "--senders", "5", "--rate", "2", "--duration", "30",
                 "--warmup", "5"],
}


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid):
    """CPU of a process and its children (PostgreSQL's backends)."""
    total = 0.0
    for child in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        total += tree_cpu(int(child))
    try:
        total += cpu_seconds(pid)
    except FileNotFoundError:
        pass
    return total


def postmaster_pid(d):
    with open(os.path.join(d.root, "pg", "postmaster.pid")) as f:
        return int(f.readline())


def run_one(out, name, rep, build):
    daemons = os.path.join(build, "daemons")
    with SplitDeployment(daemons, os.path.join(build, "src", "kafka", "im-kafka-mock"), log_level="warn") as d:
        pids = {n: p.pid for n, p in d.procs.items() if n != "redis"}
        pids["redis"] = d.procs["redis"].pid
        pids["postgres"] = postmaster_pid(d)
        targets = ",".join("127.0.0.1:%d" % d.port(g) for g in d.gateway_ids)
        err_path = os.path.join(out, "%s-%d.err" % (name, rep))
        start = time.time()
        with open(err_path, "w") as err:
            load = subprocess.Popen([os.path.join(build, "bench", "im_load"), "--target", targets, "--prefix",
                                     "s%d" % rep, *SCENARIOS[name]], stdout=subprocess.PIPE, stderr=err, text=True)
            # CPU from the start of the load (after registration and connection) to the end.
            before = None
            while before is None and load.poll() is None:
                with open(err_path) as progress:
                    if "] load: " in progress.read():
                        before = {n: tree_cpu(p) for n, p in pids.items()}
                time.sleep(0.1)
            stdout, _ = load.communicate()
        wall = time.time() - start
        after = {n: tree_cpu(p) for n, p in pids.items()}
        before = before or after
    r = subprocess.CompletedProcess(load.args, load.returncode, stdout, "")
    with open(os.path.join(out, "%s-%d.out" % (name, rep)), "w") as f:
        f.write(r.stdout)
    result = json.loads(r.stdout.strip().splitlines()[-1])
    result["exit"] = r.returncode
    # Over warmup + measured load + drain (not registration and connection).
    result["server_cpu_seconds"] = {n: round(after[n] - before[n], 2) for n in pids}
    result["wall_seconds"] = round(wall, 1)
    with open(os.path.join(out, "%s-%d.json" % (name, rep)), "w") as f:
        json.dump(result, f, indent=1)
    print("%s run %d: exit %d; %s" % (name, rep, r.returncode, r.stdout.strip().splitlines()[-1]), flush=True)
    print("  cpu s: %s" % result["server_cpu_seconds"], flush=True)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/split-baseline"
    names = sys.argv[2:] or list(SCENARIOS)
    build = os.environ.get("BUILD", os.path.join(root, "build", "release"))
    os.makedirs(out, exist_ok=True)
    for rep in range(1, int(os.environ.get("REPS", "3")) + 1):
        for name in names:
            run_one(out, name, rep, build)


if __name__ == "__main__":
    main()
