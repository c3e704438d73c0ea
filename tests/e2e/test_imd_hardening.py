#!/usr/bin/env python3
"""imd hardening of issue #12 (findings 3 and 7): a static file larger than the old 8 MiB cap is
streamed with bounded memory, oversized request headers get 431, and the admin listener takes
/metrics and /admin/ off the public port."""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from imd_harness import check, rest, start_imd

BIG = 64 * 1024 * 1024  # eight times the old cap


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raw_request(port, data, timeout=10):
    """Sends `data` on a fresh connection; returns everything the server answers until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def check_static_streaming(imd, tmp):
    web = os.path.join(tmp, "web")
    os.makedirs(web)
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<p>hi</p>")
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with open(os.path.join(web, "big.bin"), "wb") as f:
        for i in range(BIG // len(block)):
            chunk = bytes([i & 0xFF]) + block[1:]
            f.write(chunk)
            digest.update(chunk)
    proc, port = start_imd(imd, os.path.join(tmp, "data-static"), ["--web-root", web])
    try:
        check(rest(port, "/healthz")[0] == 200, "imd is up")
        before = rss_kib(proc.pid)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(proc.pid))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            got = hashlib.sha256()
            size = 0
            with urllib.request.urlopen("http://127.0.0.1:%d/big.bin" % port, timeout=60) as resp:
                check(resp.status == 200, "big file served")
                check(int(resp.headers["Content-Length"]) == BIG, "length %s" % resp.headers["Content-Length"])
                first = True
                while True:
                    chunk = resp.read(256 * 1024)
                    if not chunk:
                        break
                    if first:
                        time.sleep(0.5)  # a slow reader: the server must not buffer the rest
                        first = False
                    got.update(chunk)
                    size += len(chunk)
        finally:
            done.set()
            sampler.join()
        check(size == BIG and got.hexdigest() == digest.hexdigest(), "every byte arrives, in order (%d)" % size)
        grew = peak[0] - before
        check(grew < 16 * 1024, "RSS grew by %d KiB while serving a %d MiB file" % (grew, BIG >> 20))
        # HEAD: the GET's length, no body.
        head = raw_request(port, b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200") and (b"Content-Length: %d" % BIG) in head and
              head.endswith(b"\r\n\r\n"), "HEAD: %r" % head[:300])
        # Keep-alive after a streamed file: the next request on the connection is answered.
        both = raw_request(port, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
                                 b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check(both.count(b"HTTP/1.1 200") == 2 and both.count(b"<p>hi</p>") == 2, "keep-alive: %r" % both[:200])
        # A directory is still not a file (the original crash), and the process is still there.
        os.makedirs(os.path.join(web, "sub"))
        check(rest(port, "/sub")[0] == 404, "a directory is not found")
        check(proc.poll() is None, "imd still running")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def check_header_limit(imd, tmp):
    proc, port = start_imd(imd, os.path.join(tmp, "data-headers"))
    try:
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * (16 * 1024) + b"\r\n\r\n"
        answer = raw_request(port, big)
        check(answer.startswith(b"HTTP/1.1 431"), "oversized headers: 431, got %r" % answer[:80])
        check(b"request headers too large" in answer, "with a JSON body: %r" % answer[-120:])
        check(rest(port, "/healthz")[0] == 200, "and the server goes on")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def http_get(port, path, token=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def check_admin_listener(imd, tmp):
    token = "admin-token-0123456789"
    # Without [admin] listen: /metrics on the public port, as before.
    proc, port = start_imd(imd, os.path.join(tmp, "data-noadmin"))
    try:
        status, text = http_get(port, "/metrics")
        check(status == 200 and "im_connections" in text, "/metrics on the public port by default")
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    for how in ("flag", "toml"):
        data = os.path.join(tmp, "data-admin-" + how)
        if how == "flag":
            args = ["--admin-listen", "127.0.0.1:0"]
        else:
            conf = os.path.join(tmp, "admin.toml")
            with open(conf, "w") as f:
                f.write('[admin]\nlisten = "127.0.0.1:0"\n')
            args = ["--config", conf]
        proc, port = start_imd(imd, data, args, env_extra={"IMD_ADMIN_TOKEN": token})
        try:
            line = proc.stdout.readline()
            check(line.startswith("imd admin listening on http://127.0.0.1:"), "admin line: %r" % line)
            admin = int(line.split("://127.0.0.1:")[1].split("/")[0])
            status, text = http_get(admin, "/metrics")
            check(status == 200 and "im_connections" in text, "%s: /metrics on the admin port" % how)
            check(http_get(admin, "/healthz")[0] == 200 and http_get(admin, "/readyz")[0] == 200, "admin probes")
            check(http_get(port, "/metrics")[0] == 404, "%s: no /metrics on the public port" % how)
            check(http_get(port, "/healthz")[0] == 200 and http_get(port, "/readyz")[0] == 200,
                  "the public port keeps its probes")
            check(http_get(admin, "/admin/dead-letters", token)[0] == 200, "dead letters on the admin port")
            check(http_get(admin, "/admin/dead-letters", "wrong-token-0123456789")[0] == 401, "admin token checked")
            check(http_get(port, "/admin/dead-letters", token)[0] == 404, "no /admin/ on the public port")
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    out = subprocess.run([imd, "--admin-listen", "nowhere", "--data-dir", os.path.join(tmp, "bad")],
                         capture_output=True, text=True, timeout=20)
    check(out.returncode == 2 and "--admin-listen" in out.stderr, "bad --admin-listen: %r" % out.stderr)
    conf = os.path.join(tmp, "bad.toml")
    with open(conf, "w") as f:
        f.write('[admin]\nport = 9100\n')
    out = subprocess.run([imd, "--config", conf], capture_output=True, text=True, timeout=20)
    check(out.returncode == 2 and "admin.port is not a known setting" in out.stderr, "bad [admin]: %r" % out.stderr)


def main(imd):
    tmp = tempfile.mkdtemp(prefix="imd-hardening-")
    try:
        check_static_streaming(imd, tmp)
        check_header_limit(imd, tmp)
        check_admin_listener(imd, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
