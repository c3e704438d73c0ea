#!/usr/bin/env python3
"""imd at its file-descriptor limit (issue 12, finding 5): started under `prlimit --nofile=64:64`
and offered far more connections than it can hold, it backs off instead of spinning in accept,
sheds what it cannot take with a clean close, serves again once connections close, and
max_connections_per_ip refuses the extra connections of one address.

usage: test_imd_fd_limit.py IMD"""
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request

from imd_harness import check, start_imd

NOFILE = 64


def cpu_seconds(pid):
    """utime + stime of `pid` in seconds (/proc/PID/stat fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connect(port):
    s = socket.socket()
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s, timeout):
    """True when the server closes `s` (EOF or reset) within `timeout` seconds."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def healthz(port, timeout=5):
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=timeout) as r:
        return r.status


def start(imd, tmp, name, limits):
    data = os.path.join(tmp, name)
    config = os.path.join(tmp, name + ".toml")
    with open(config, "w") as f:
        f.write("[limits]\n" + "".join("%s = %d\n" % kv for kv in limits.items()))
    log = open(os.path.join(tmp, name + ".log"), "w+")
    proc, port = start_imd(imd, data, ["--config", config], stderr=log,
                           wrapper=["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)])
    return proc, port, log


def stop(proc):
    proc.terminate()
    proc.wait(timeout=20)


def at_the_fd_limit_imd_backs_off_sheds_and_recovers(imd, tmp):
    # A total cap above the descriptor limit, so accept() itself runs out.
    proc, port, log = start(imd, tmp, "fdlimit", {"max_connections": 100000, "network_threads": 1})
    held = []
    try:
        for _ in range(3 * NOFILE):
            held.append(connect(port))  # the kernel completes the handshake; imd accepts what it can
        time.sleep(0.5)
        shed = sum(closed_by_server(s, 0.05) for s in held)
        check(shed > 0, "imd closed some connections it had no descriptor for (%d of %d)" % (shed, len(held)))

        # Keep offering connections while measuring: a spinning accept loop burns a core here.
        stop_flag = threading.Event()

        def offer():
            while not stop_flag.is_set():
                try:
                    connect(port).close()
                except OSError:
                    pass
                time.sleep(0.02)

        offerer = threading.Thread(target=offer)
        offerer.start()
        before = cpu_seconds(proc.pid)
        time.sleep(2)
        used = cpu_seconds(proc.pid) - before
        stop_flag.set()
        offerer.join()
        print("imd CPU at the fd limit: %.3f s over 2 s" % used)
        check(used < 0.3, "imd at the fd limit used %.3f s of CPU in 2 s (a spinning accept loop uses ~2)" % used)
        check(proc.poll() is None, "imd is still running")

        for s in held:
            s.close()
        held.clear()
        deadline = time.time() + 10
        status = None
        while time.time() < deadline and status != 200:
            try:
                status = healthz(port, timeout=2)
            except OSError:
                time.sleep(0.1)
        check(status == 200, "imd serves again once connections close")

        log.seek(0)
        warnings = [line for line in log if '"accept.failed"' in line]
        check(1 <= len(warnings) <= 2, "the fd-limit error is logged, rate-limited: %d lines" % len(warnings))
    finally:
        for s in held:
            s.close()
        stop(proc)


def per_ip_cap_refuses_the_extra_connections(imd, tmp):
    proc, port, _ = start(imd, tmp, "perip", {"max_connections_per_ip": 5})
    held = []
    try:
        held = [connect(port) for _ in range(5)]
        time.sleep(0.2)
        check(not any(closed_by_server(s, 0.05) for s in held), "the first 5 connections stay open")
        extra = [connect(port) for _ in range(3)]
        check(all(closed_by_server(s, 2) for s in extra), "connections over the per-IP cap are closed at once")
        for s in extra:
            s.close()
        held.pop().close()
        time.sleep(0.2)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            metrics = r.read().decode()
        line = [m for m in metrics.splitlines() if m.startswith('im_connections_refused_total{reason="max_connections_per_ip"}')]
        check(line and int(line[0].split()[-1]) >= 3, "refusals counted: %r" % line)
    finally:
        for s in held:
            s.close()
        stop(proc)


def main(imd):
    tmp = tempfile.mkdtemp(prefix="imd-fdlimit-")
    try:
        at_the_fd_limit_imd_backs_off_sheds_and_recovers(imd, tmp)
        per_ip_cap_refuses_the_extra_connections(imd, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
