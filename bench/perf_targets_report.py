#!/usr/bin/python3
"""Aggregation for bench/perf_targets.sh (and its `split` step).

  perf_targets_report.py report OUT [--check] [--reps N] [--both "direct10k group1k"] --scenarios S...
      reads OUT/runs/ (what perf_targets.sh left there) and writes OUT/results.json (every run's
      raw numbers, median/min/max of each metric, its target and whether the median meets it) and
      OUT/results.md (the table). Exit 1 when a run of the named scenarios did not complete; with
      --check (smoke) also when any run had an error, a loss, a close or a non-zero exit.
  perf_targets_report.py split RUNS_DIR REP BUILD IM_LOAD_ARGS...
      one run of bench/split_baseline.py's run_one with these im_load options (scenario "split").
"""
import glob
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Targets of the issue. (op, value, note); note "derived" marks a check that is not an issue
# target but tells whether the run means anything (e.g. the offered load was carried).
LE, GE = "<=", ">="


def read_meta(path):
    meta = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line:
                    k, v = line.split("=", 1)
                    meta[k] = v
    except FileNotFoundError:
        pass
    return meta


def last_json_line(path):
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
    except FileNotFoundError:
        return None
    if not lines:
        return None
    try:
        return json.loads(lines[-1])
    except ValueError:
        return None


def read_time(path):
    """/usr/bin/time -f 'time wall=%e user=%U sys=%S maxrss_kb=%M' (its last line)."""
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("time ")]
    except FileNotFoundError:
        return None
    if not lines:
        return None
    out = {}
    for kv in lines[-1].split()[1:]:
        k, v = kv.split("=", 1)
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def opt_value(args, name):
    words = args.split()
    for i, w in enumerate(words[:-1]):
        if w == name:
            return fnum(words[i + 1])
    return None


def offered(args):
    """(messages/s, deliveries/s) offered by an im_load command line."""
    rate = opt_value(args, "--rate") or 0
    if "--scenario group" in args:
        senders, members = opt_value(args, "--senders") or 1, opt_value(args, "--members") or 100
        return senders * rate, senders * rate * (members - 1)
    conns = opt_value(args, "--connections") or 100
    return conns * rate, conns * rate


# ---------------------------------------------------------------------------------------------
# imd runs


def imd_run(runs, base):
    meta = read_meta(base + ".meta")
    nprocs = int(meta.get("nprocs", "1") or 1)
    procs = []
    for p in range(1, nprocs + 1):
        procs.append({
            "args": meta.get("p%d_args" % p, meta.get("args", "")),
            "exit": int(meta["p%d_exit" % p]) if "p%d_exit" % p in meta else None,
            "result": last_json_line("%s.p%d.out" % (base, p)),
            "time": read_time("%s.p%d.time" % (base, p)),
        })
    run = {"rep": int(meta.get("rep", 0)), "started": meta.get("started"), "meta": meta, "processes": procs}
    results = [p["result"] for p in procs]
    d = {}
    d["completed"] = all(r is not None for r in results) and "error" not in meta
    d["exit"] = max([abs(p["exit"]) for p in procs if p["exit"] is not None] or [-1]) if procs else -1
    if any(p["exit"] is None for p in procs):
        d["exit"] = -1
    if d["completed"]:
        rs = results
        d["ok"] = all(r.get("ok") for r in rs) and d["exit"] == 0
        d["failures"] = sum(r.get("errors_total", 0) + r.get("missing", 0) + r.get("unacked", 0) + r.get("closes", 0) +
                            r.get("not_sent", 0) for r in rs)
        d["errors_total"] = sum(r.get("errors_total", 0) for r in rs)
        d["refused"] = sum(r.get("refused", 0) for r in rs)
        d["missing"] = sum(r.get("missing", 0) for r in rs)
        d["unacked"] = sum(r.get("unacked", 0) for r in rs)
        d["acked_per_s"] = sum(r.get("messages_per_s", 0) for r in rs)
        d["deliveries_per_s"] = sum(r.get("deliveries_per_s", 0) for r in rs)
        d["offered_per_s"] = sum(offered(p["args"])[0] for p in procs)
        d["offered_deliveries_per_s"] = sum(offered(p["args"])[1] for p in procs)
        conns = [r.get("connections", 0) for r in rs]
        d["connections"] = sum(conns)
        for kind in ("ack", "delivery"):
            for q in ("p50", "p90", "p99", "max"):
                vals = [r.get(kind + "_latency_ms", {}).get(q) for r in rs]
                vals = [v for v in vals if v is not None]
                if vals:  # several processes: the worst of them
                    d["%s_%s_ms" % (kind, q)] = max(vals)
        if len(rs) == 1:
            r = rs[0]
            if "cpu_s_per_1k_messages" in r:
                d["cpu_us_per_msg"] = r["cpu_s_per_1k_messages"] * 1000
                d["cpu_us_per_delivery"] = r["cpu_s_per_1k_deliveries"] * 1000
                d["server_cpu_pct"] = r.get("server_cpu_pct")
            d["client_cpu_pct"] = r.get("client_cpu_pct")
            d["client_max_send_lag_ms"] = r.get("client_max_send_lag_ms")
        else:
            d["client_cpu_pct"] = sum(r.get("client_cpu_pct", 0) for r in rs)
        if all("kb_per_connection" in r for r in rs) and sum(conns) > 0:
            # Each process measured its own connect phase (the others idle): weighted by connections.
            d["kb_per_connection"] = sum(r["kb_per_connection"] * n for r, n in zip(rs, conns)) / sum(conns)
        connect_s = sum(n / r["connect_per_s"] for r, n in zip(rs, conns) if r.get("connect_per_s"))
        if connect_s > 0:
            d["upgrades_per_s"] = sum(conns) / connect_s
        register_s = sum(n / r["register_per_s"] for r, n in zip(rs, conns) if r.get("register_per_s"))
        if register_s > 0:
            d["register_per_s"] = sum(conns) / register_s
        if rs and "server_rss_kb" in rs[-1]:
            d["server_rss_end_kb"] = rs[-1]["server_rss_kb"]
    times = [p["time"] for p in procs]
    if procs and all(times):
        d["client_cpu_s_total"] = sum(t.get("user", 0) + t.get("sys", 0) for t in times)
        d["client_maxrss_kb"] = max(t.get("maxrss_kb", 0) for t in times)
    before, after = fnum(meta.get("imd_cpu_before_s")), fnum(meta.get("imd_cpu_after_s"))
    if before is not None and after is not None:
        d["imd_cpu_total_s"] = after - before
    rss0, rss1 = fnum(meta.get("rss_before_kb")), fnum(meta.get("rss_all_connected_kb"))
    if rss0 is not None and rss1 is not None and d.get("connections"):
        # Includes what registration and login left in imd: an upper bound of the session cost.
        d["kb_per_connection_whole_run"] = (rss1 - rss0) / d["connections"]
    d["all_open_at_once"] = meta.get("all_open_at_once") == "1"
    run["derived"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in d.items()}
    return run


# Metrics per kind of case: (key, label, target or None). Targets: (op, value, note).
DIRECT_INFO = [
    ("acked_per_s", "acked msg/s", None),
    ("ack_p50_ms", "ack p50 (ms)", None),
    ("ack_p99_ms", "ack p99 (ms)", None),
    ("delivery_p50_ms", "delivery p50 (ms)", None),
    ("delivery_p99_ms", "delivery p99 (ms)", None),
    ("server_cpu_pct", "imd CPU (% of one core)", None),
    ("client_cpu_pct", "im_load CPU during load (% of one core)", None),
]
# What a throughput scenario reports next to its acked msg/s.
THROUGHPUT_INFO = [
    ("cpu_us_per_msg", "imd CPU per message (µs)", None),
    ("ack_p50_ms", "ack p50 (ms)", None),
    ("ack_p99_ms", "ack p99 (ms)", None),
    ("delivery_p99_ms", "delivery p99 (ms)", None),
    ("server_cpu_pct", "imd CPU (% of one core)", None),
    ("client_cpu_pct", "im_load CPU during load (% of one core)", None),
]
CASES = {
    "direct1k": [
        ("cpu_us_per_msg", "imd CPU per message (µs)", (LE, 150, "")),
        *DIRECT_INFO,
        ("failures", "errors + missing + unacked + closes", (LE, 0, "derived")),
    ],
    "direct10k": [
        ("acked_per_s", "acked msg/s", (GE, 9900, "derived: 99 % of the 10,000 offered")),
        ("cpu_us_per_msg", "imd CPU per message (µs)", (LE, 50, "")),
        ("ack_p99_ms", "ack p99 (ms)", (LE, 20, "")),
        ("delivery_p99_ms", "delivery p99 (ms)", (LE, 20, "")),
        ("ack_p50_ms", "ack p50 (ms)", None),
        ("delivery_p50_ms", "delivery p50 (ms)", None),
        ("server_cpu_pct", "imd CPU (% of one core)", None),
        ("client_cpu_pct", "im_load CPU during load (% of one core)", None),
        ("failures", "errors + missing + unacked + closes", (LE, 0, "derived")),
    ],
    "direct5k": [
        ("acked_per_s", "acked msg/s", (GE, 4950, "derived: 99 % of the 5,000 offered")),
        *THROUGHPUT_INFO,
        ("failures", "errors + missing + unacked + closes", (LE, 0, "derived")),
    ],
    "direct-max": [
        ("acked_per_s", "acked msg/s (20,000 offered)", (GE, 20000, "")),
        *THROUGHPUT_INFO,
        ("refused", "refused sends (overload answers)", None),
        ("failures", "errors + missing + unacked + closes", None),
    ],
    "group1k": [
        ("deliveries_per_s", "deliveries/s", None),
        ("cpu_us_per_delivery", "imd CPU per delivery (µs)", (LE, 1.6, "")),
        ("client_cpu_pct", "im_load CPU during load (% of one core)", None),
        ("client_cpu_s_total", "im_load CPU, whole process (s)", None),
        ("acked_per_s", "acked msg/s", None),
        ("ack_p99_ms", "ack p99 (ms)", None),
        ("delivery_p50_ms", "delivery p50 (ms)", None),
        ("delivery_p99_ms", "delivery p99 (ms)", None),
        ("server_cpu_pct", "imd CPU (% of one core)", None),
        ("failures", "errors + missing + unacked + closes", (LE, 0, "derived")),
    ],
    "idle19k": [
        ("kb_per_connection", "imd kB per connection", (LE, 4, "")),
        ("upgrades_per_s", "authenticated upgrades/s", (GE, 15000, "")),
        ("connections", "connections open", None),
        ("kb_per_connection_whole_run", "imd kB per connection incl. registration", None),
        ("register_per_s", "register + login users/s", None),
        ("server_rss_end_kb", "imd RSS at the end (kB)", None),
        ("failures", "errors + missing + unacked + closes", (LE, 0, "derived")),
    ],
}
BOTH_KEYS = ("acked_per_s", "deliveries_per_s", "cpu_us_per_msg", "cpu_us_per_delivery", "ack_p50_ms", "ack_p99_ms",
             "delivery_p99_ms", "server_cpu_pct", "client_cpu_pct", "failures")
THROUGHPUT = {"direct": "acked_per_s", "group": "deliveries_per_s"}


def base_case(name):
    return name.split(".", 1)[1] if name.startswith("both-cores.") else name


def throughput_key(case):
    return THROUGHPUT["group" if base_case(case).startswith("group") else "direct"]


def stats(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "values": values}


def judge(median, target):
    if target is None or median is None:
        return None
    op, value, _ = target
    return median <= value if op == LE else median >= value


def metric(values, target, label):
    m = stats(values) or {"median": None, "min": None, "max": None, "values": values}
    m["label"] = label
    if target:
        m["target"] = "%s %s" % (target[0], target[1])
        if target[2]:
            m["target_note"] = target[2]
        m["met"] = judge(m["median"], target)
    return m


def imd_cases(runs_dir):
    cases = {}
    for meta_path in sorted(glob.glob(os.path.join(runs_dir, "*.meta"))):
        fname = os.path.basename(meta_path)
        if fname.startswith("stores.") or fname.startswith("split-"):
            continue
        base = meta_path[:-len(".meta")]
        run = imd_run(runs_dir, base)
        name = run["meta"].get("name") or fname.rsplit("-", 1)[0]
        cases.setdefault(name, []).append(run)
    out = {}
    for name, runs in cases.items():
        runs.sort(key=lambda r: r["rep"])
        kind = base_case(name)
        specs = CASES.get(kind, CASES["direct1k"])
        if name.startswith("both-cores."):
            # The same figures without the one-core targets; the ratio is added below.
            specs = [(k, l, None) for k, l, _ in specs if k in BOTH_KEYS]
        metrics = {}
        for key, label, target in specs:
            metrics[key] = metric([r["derived"].get(key) for r in runs], target, label)
        out[name] = {
            "kind": "imd",
            "config": {"im_load_args": runs[0]["meta"].get("args"), "server_cpus": runs[0]["meta"].get("server_cpus"),
                       "load_cpus": runs[0]["meta"].get("load_cpus"), "im_load_processes": runs[0]["meta"].get("nprocs")},
            "runs": runs,
            "metrics": metrics,
        }
    # Both cores against one core: the medians of the same OUT.
    for name, case in out.items():
        if not name.startswith("both-cores."):
            continue
        one = out.get(base_case(name))
        key = throughput_key(name)
        both_m = case["metrics"][key]["median"]
        one_m = one["metrics"].get(key, {}).get("median") if one else None
        ratio = both_m / one_m if both_m is not None and one_m else None
        m = {"median": ratio, "min": None, "max": None, "values": [ratio],
             "label": "%s vs one core (x)" % case["metrics"][key]["label"], "target": ">= 1.7", "met": judge(ratio, (GE, 1.7, "")),
             "target_note": "against %s in this OUT" % base_case(name) if one else "no one-core run of %s in this OUT" % base_case(name)}
        case["metrics"] = {"ratio_vs_one_core": m, **case["metrics"]}
    return out


# ---------------------------------------------------------------------------------------------
# stores


def rate_of(bench):
    if "items_per_second" in bench:
        return bench["items_per_second"]
    for k, v in bench.items():  # a case that reports its own counter
        if isinstance(v, (int, float)) and ("per_s" in k or "per_second" in k or k.startswith("appends")):
            return v
    return None


def store_cases(runs_dir):
    out = {}
    for meta_path in sorted(glob.glob(os.path.join(runs_dir, "stores.*.meta"))):
        base = meta_path[:-len(".meta")]
        prog = os.path.basename(base)[len("stores."):]
        meta = read_meta(meta_path)
        try:
            with open(base + ".json") as f:
                doc = json.load(f)
        except (FileNotFoundError, ValueError):
            doc = None
        listed = meta.get("listed", "").split()
        benches = (doc or {}).get("benchmarks", [])
        by_name = {}
        for b in benches:
            name = b.get("run_name") or b.get("name")
            by_name.setdefault(name, []).append(b)
        errors = [b.get("name") for b in benches if b.get("error_occurred")]
        not_run = [n for n in listed if n not in by_name]
        case = {"kind": "stores", "program": prog, "meta": meta, "listed": listed, "not_run": not_run,
                "errors": errors, "exit": int(meta["exit"]) if meta.get("exit", "").lstrip("-").isdigit() else None,
                "completed": doc is not None and not not_run and meta.get("exit") == "0",
                "context": (doc or {}).get("context"), "metrics": {}, "runs": benches}
        for name, bs in by_name.items():
            iters = [b for b in bs if b.get("run_type", "iteration") == "iteration"]
            vals = [rate_of(b) for b in iters]
            # One closed-loop sender is bounded by one commit per append: shown, not judged.
            target = None if name.endswith("threads:1") else (GE, 100000, "")
            m = metric(vals, target, "%s appends/s" % name)
            if target is None:
                m["target_note"] = "1 closed-loop sender: not judged"
            batch = [b.get("batch_avg") for b in iters if b.get("batch_avg") is not None]
            if batch:
                m["batch_avg_median"] = statistics.median(batch)
            case["metrics"][name] = m
        out["stores/" + prog] = case
    return out


# ---------------------------------------------------------------------------------------------
# split


def split_case(runs_dir):
    runs = []
    for meta_path in sorted(glob.glob(os.path.join(runs_dir, "split-*.meta"))):
        base = meta_path[:-len(".meta")]
        meta = read_meta(meta_path)
        try:
            with open(base + ".json") as f:
                res = json.load(f)
        except (FileNotFoundError, ValueError):
            res = None
        d = {"completed": res is not None}
        if res:
            cpu = sum(res.get("server_cpu_seconds", {}).values())
            cpu_setup = sum(res.get("server_cpu_seconds_with_setup", {}).values())
            # split_baseline measures CPU over warmup + load + drain: divide by the messages of
            # warmup + load (the measured rate over both).
            msgs = res.get("messages_per_s", 0) * (res.get("warmup", 0) + res.get("duration", 0))
            d.update({
                "ok": bool(res.get("ok")) and res.get("exit") == 0,
                "server_cpu_s": cpu,
                "server_cpu_s_with_setup": cpu_setup,
                "client_cpu_s_total": res.get("client_cpu_seconds"),
                "cpu_us_per_msg_all": cpu / msgs * 1e6 if msgs else None,
                "acked_per_s": res.get("messages_per_s"),
                "ack_p50_ms": res.get("ack_latency_ms", {}).get("p50"),
                "ack_p99_ms": res.get("ack_latency_ms", {}).get("p99"),
                "delivery_p99_ms": res.get("delivery_latency_ms", {}).get("p99"),
                "failures": sum(res.get(k, 0) for k in ("errors_total", "missing", "unacked", "closes", "not_sent")),
                "client_cpu_pct": res.get("client_cpu_pct"),
            })
        runs.append({"rep": int(meta.get("rep", 0)), "meta": meta, "result": res, "derived": d})
    if not runs:
        return {}
    specs = [("cpu_us_per_msg_all", "CPU per message, every server process (µs)", (LE, 500, "")),
             ("acked_per_s", "acked msg/s", None), ("ack_p50_ms", "ack p50 (ms)", None),
             ("ack_p99_ms", "ack p99 (ms)", None), ("delivery_p99_ms", "delivery p99 (ms)", None),
             ("server_cpu_s", "server CPU over the load, all processes (s)", None),
             ("server_cpu_s_with_setup", "server CPU incl. registration and connecting (s)", None),
             ("client_cpu_pct", "im_load CPU during load (% of one core)", None),
             ("failures", "errors + missing + unacked + closes", (LE, 0, "derived"))]
    return {"split": {"kind": "split", "config": {"im_load_args": runs[0]["meta"].get("args")}, "runs": runs,
                      "metrics": {k: metric([r["derived"].get(k) for r in runs], t, l) for k, l, t in specs}}}


# ---------------------------------------------------------------------------------------------
# output


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    a = abs(v)
    if float(v).is_integer():
        return "{:,.0f}".format(v)
    if a >= 1000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def markdown(cases, header):
    lines = header + ["", "| scenario | metric | median | min–max | target | met? |", "|---|---|---:|---:|---|---|"]
    for name, case in cases.items():
        for key, m in case["metrics"].items():
            rng = "—" if m.get("min") is None else "%s–%s" % (fmt(m["min"]), fmt(m["max"]))
            target = m.get("target", "")
            if m.get("target_note"):
                target = "%s (%s)" % (target, m["target_note"]) if target else m["target_note"]
            met = {True: "met", False: "**missed**", None: "—" if "target" in m else ""}[m.get("met")]
            median = "%.2f" % m["median"] if key == "ratio_vs_one_core" and m["median"] is not None else fmt(m["median"])
            lines.append("| %s | %s | %s | %s | %s | %s |" % (name, m["label"], median, rng, target, met))
    return "\n".join(lines) + "\n"


def expected_runs(scenarios, reps, both):
    """(case name, rep) of the imd and split runs an invocation makes."""
    exp = []
    for s in scenarios:
        for rep in range(1, reps + 1):
            if s == "both-cores":
                exp += [("both-cores." + b, rep) for b in both]
            elif s not in ("stores",):
                exp.append((s, rep))
    return exp


def report(argv):
    out = argv[0]
    check = "--check" in argv
    reps, both, scenarios = 3, ["direct10k", "group1k"], []
    i = 1
    while i < len(argv):
        if argv[i] == "--reps":
            reps = int(argv[i + 1]); i += 2
        elif argv[i] == "--both":
            both = argv[i + 1].split(); i += 2
        elif argv[i] == "--scenarios":
            scenarios = argv[i + 1:]; break
        else:
            i += 1
    runs_dir = os.path.join(out, "runs")
    cases = {}
    cases.update(imd_cases(runs_dir))
    cases.update(store_cases(runs_dir))
    cases.update(split_case(runs_dir))
    order = ["direct1k", "direct5k", "direct10k", "direct-max", "group1k", "idle19k"]
    ordered = {k: cases[k] for k in order if k in cases}
    ordered.update({k: v for k, v in cases.items() if k not in ordered})

    problems = []
    for name, rep in expected_runs(scenarios, reps, both):
        runs = [r for r in ordered.get(name, {}).get("runs", []) if r.get("rep") == rep]
        if not runs or not runs[0]["derived"].get("completed"):
            why = runs[0]["meta"].get("error") if runs else None
            problems.append("%s run %d did not complete%s" % (name, rep, " (%s)" % why if why else ""))
            continue
        d = runs[0]["derived"]
        if check and (not d.get("ok") or d.get("failures", 1) != 0):
            problems.append("%s run %d: ok=%s exit=%s failures=%s" % (name, rep, d.get("ok"), d.get("exit"),
                                                                      d.get("failures")))
    if "stores" in scenarios:
        stores = [c for c in ordered.values() if c["kind"] == "stores"]
        if not stores:
            problems.append("stores: no benchmark program ran")
        for c in stores:
            if not c["completed"]:
                problems.append("stores/%s did not complete (%s)" % (
                    c["program"], c["meta"].get("error") or "exit %s, not run: %s" % (c["exit"], c["not_run"])))
            if c["errors"]:
                problems.append("stores/%s: errors in %s" % (c["program"], c["errors"]))

    inv = read_meta(os.path.join(out, "invocation.txt"))
    doc = {"invocation": inv, "smoke": inv.get("smoke") == "1", "problems": problems, "cases": ordered}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1, default=str)
    cpus = [(c["config"].get("server_cpus"), c["config"].get("load_cpus")) for n, c in ordered.items()
            if c["kind"] == "imd" and not n.startswith("both-cores.")]
    line = "%s%s, REPS=%s, load average at start %s. Medians over the runs in `runs/` (each scenario from the " \
           "latest invocation that ran it)." % ("**SMOKE run: tiny sizes, the figures mean nothing.** "
                                                if doc["smoke"] else "", inv.get("started", "?"), inv.get("reps", "?"),
                                                inv.get("loadavg", "?"))
    if "imd" in inv:
        line += " imd `%s`, im_load `%s`." % (inv["imd"], inv.get("im_load"))
    if cpus:
        line += " imd on CPUs %s, im_load on CPUs %s (both-cores: see results.json config)." % (
            cpus[0][0] or "(not pinned)", cpus[0][1] or "(not pinned)")
    header = ["# Performance targets (bench/perf_targets.sh)", "", line]
    if problems:
        header += ["", "Problems: " + "; ".join(problems)]
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(ordered, header))
    for p in problems:
        print("perf_targets: " + p, file=sys.stderr)
    return 1 if problems else 0


def split(argv):
    """One split-deployment run, as split_baseline.run_one does it (same deployment, same pids,
    same tree_cpu); the window starts at im_load's "] load: " line, and the CPU from the start
    (registration, login and connecting included) is kept too (server_cpu_seconds_with_setup)."""
    import resource
    import signal
    import subprocess
    import time
    # On SIGTERM (perf_targets.sh's timeout) leave through the `with` so the deployment is torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs_dir, rep, build, load_args = argv[0], int(argv[1]), argv[2], argv[3:]
    sys.path.insert(0, HERE)
    import split_baseline as sb  # noqa: E402 (adds tests/e2e to the path for split_harness)
    daemons = os.path.join(build, "daemons")
    with sb.SplitDeployment(daemons, os.path.join(build, "src", "kafka", "im-kafka-mock"), log_level="warn") as d:
        pids = {n: p.pid for n, p in d.procs.items() if n != "redis"}
        pids["redis"] = d.procs["redis"].pid
        pids["postgres"] = sb.postmaster_pid(d)
        targets = ",".join("127.0.0.1:%d" % d.port(g) for g in d.gateway_ids)
        err_path = os.path.join(runs_dir, "split-%d.err" % rep)
        start = time.time()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        at_start = {n: sb.tree_cpu(p) for n, p in pids.items()}
        with open(err_path, "w") as err:
            load = subprocess.Popen([os.path.join(build, "bench", "im_load"), "--target", targets, "--prefix",
                                     "s%d" % rep, *load_args], stdout=subprocess.PIPE, stderr=err, text=True)
            before = None
            while before is None and load.poll() is None:
                with open(err_path) as progress:
                    if "] load: " in progress.read():
                        before = {n: sb.tree_cpu(p) for n, p in pids.items()}
                time.sleep(0.1)
            stdout, _ = load.communicate()
        wall = time.time() - start
        after = {n: sb.tree_cpu(p) for n, p in pids.items()}
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = before or after
    with open(os.path.join(runs_dir, "split-%d.out" % rep), "w") as f:
        f.write(stdout)
    lines = [l for l in stdout.strip().splitlines() if l.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result["exit"] = load.returncode
    result["server_cpu_seconds"] = {n: round(after[n] - before[n], 2) for n in pids}
    result["server_cpu_seconds_with_setup"] = {n: round(after[n] - at_start[n], 2) for n in pids}
    result["client_cpu_seconds"] = round(children_after.ru_utime + children_after.ru_stime -
                                         children_before.ru_utime - children_before.ru_stime, 2)
    result["wall_seconds"] = round(wall, 1)
    with open(os.path.join(runs_dir, "split-%d.json" % rep), "w") as f:
        json.dump(result, f, indent=1)
    print("split run %d: exit %d; %s" % (rep, load.returncode, lines[-1] if lines else "(no JSON line)"), flush=True)
    print("  cpu s over the load: %s" % result["server_cpu_seconds"], flush=True)
    return 0 if lines else 1


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("report", "split"):
        print(__doc__, file=sys.stderr)
        return 2
    return report(sys.argv[2:]) if sys.argv[1] == "report" else split(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
