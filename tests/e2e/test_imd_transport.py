#!/usr/bin/env python3
"""imd's transport settings over real sockets: TLS (https + wss), the origin check, the
heartbeat and idle timeout, sessions closed with 1008 when their access token expires (and the
expired token refused), request ids in responses and structured logs, the web page, and overload answered with
unavailable instead of an unbounded queue."""
import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

from imd_harness import check, raw_upgrade, recv_type, rest, start_imd


def login(port, name, scheme="http", context=None):
    body = json.dumps({"username": name, "password": name + "-password", "device": "d"}).encode()
    for path in ("/api/v1/auth/register", "/api/v1/auth/login"):
        req = urllib.request.Request("%s://127.0.0.1:%d%s" % (scheme, port, path), data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as resp:
                out = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            check(e.code == 409, "register %s: %s" % (name, e.code))  # already registered
    return out


def conv_of(a, b):
    return "d:%s:%s" % tuple(sorted([a["user_id"], b["user_id"]], key=int))


async def expect_status(url, **kwargs):
    try:
        async with websockets.connect(url, **kwargs):
            return 101
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code


async def tls_scenario(port, context):
    alice, bob = login(port, "alice", "https", context), login(port, "bob", "https", context)
    url = "wss://127.0.0.1:%d/ws?token=" % port
    async with websockets.connect(url + alice["access_token"], ssl=context) as a, \
            websockets.connect(url + bob["access_token"], ssl=context) as b:
        await a.send(json.dumps({"type": "send-message", "id": "1", "conversation_id": conv_of(alice, bob),
                                 "client_msg_id": "tls-1", "content": "over TLS"}))
        check((await recv_type(a, "send-ack"))["seq"] == "1", "send-ack over wss")
        check((await recv_type(b, "new-message"))["message"]["content"] == "over TLS", "delivered over wss")
    # The TLS port does not speak plain HTTP.
    try:
        rest(port, "/healthz")
        raise AssertionError("plain HTTP answered on the TLS port")
    except (ConnectionError, OSError, ValueError) as e:
        print("plain HTTP on the TLS port fails as expected: %s" % type(e).__name__)


def test_tls(imd, work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    # Half a TLS configuration is refused up front, naming what is missing.
    half = subprocess.run([imd, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "x"), "--tls-cert", cert],
                          capture_output=True, text=True, timeout=20)
    check(half.returncode == 2 and "tls_private_key_file" in half.stderr, "half TLS config: %s" % half.stderr)
    bad = subprocess.run([imd, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "y"), "--tls-cert", key,
                          "--tls-key", key], capture_output=True, text=True, timeout=20)
    check(bad.returncode != 0 and "certificate" in bad.stderr, "a key is not a certificate: %s" % bad.stderr)

    proc, port = start_imd(imd, os.path.join(work, "tls"), ["--tls-cert", cert, "--tls-key", key])
    try:
        context = ssl.create_default_context(cafile=cert)
        asyncio.run(tls_scenario(port, context))
        check(proc.poll() is None, "imd (TLS) still running")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print("tls: ok")


async def settings_scenario(port, log_path):
    alice, bob = login(port, "alice"), login(port, "bob")
    url = "ws://127.0.0.1:%d/ws?token=" % port

    # Origin: a listed origin and no origin pass; any other origin is refused with 403.
    check(await expect_status(url + alice["access_token"], origin="http://evil.example") == 403, "foreign origin")
    check(await expect_status(url + alice["access_token"], origin="http://good.example") == 101, "listed origin")
    check(await expect_status(url + alice["access_token"]) == 101, "no origin (not a browser)")

    # Heartbeat: a client that answers pings (websockets does) stays connected past the idle
    # timeout (2 s); a peer that never answers is cut off.
    silent = raw_upgrade(port, bob["access_token"])
    async with websockets.connect(url + bob["access_token"], ping_interval=None) as live:
        started = time.monotonic()
        opcodes = []
        silent.settimeout(8)
        buf = b""
        while True:
            chunk = await asyncio.get_running_loop().run_in_executor(None, silent.recv, 4096)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + (buf[1] & 0x7F):
                opcodes.append(buf[0] & 0x0F)
                buf = buf[2 + (buf[1] & 0x7F):]
        waited = time.monotonic() - started
        check(0x9 in opcodes, "the server pinged the silent peer: %s" % opcodes)
        check(1.5 <= waited <= 6, "silent peer closed after the idle timeout (%.1f s)" % waited)
        await live.send(json.dumps({"type": "ping", "id": "still"}))
        check((await recv_type(live, "pong"))["id"] == "still", "answering peer still connected after %.1f s" % waited)
    silent.close()

    # Token expiry (access_token_ttl_seconds = 5, so bob's sessions above outlive the idle
    # timeout of the silent one whatever the tick phase): the session is closed with 1008, the expired
    # token is refused at upgrade and by REST, and a refreshed token works again.
    fresh = login(port, "carol")
    async with websockets.connect(url + fresh["access_token"]) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 8)
            raise AssertionError("no close at token expiry")
        except websockets.exceptions.ConnectionClosed as e:
            check(e.code == 1008, "closed with 1008 at token expiry, got %s" % e.code)
    check(await expect_status(url + fresh["access_token"]) == 401, "expired token refused at upgrade")
    check(rest(port, "/api/v1/users/me", token=fresh["access_token"])[0] == 401, "expired token refused by REST")
    status, renewed = rest(port, "/api/v1/auth/refresh", {"refresh_token": fresh["refresh_token"]})
    check(status == 200, "refresh after expiry: %s" % status)
    check(await expect_status(url + renewed["access_token"]) == 101, "refreshed token accepted")

    # Request ids: the client's is echoed and logged; the log never holds the query (tokens).
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1/users/me" % port,
                                 headers={"Authorization": "Bearer " + renewed["access_token"],
                                          "X-Request-Id": "test-req-42"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        check(resp.headers["X-Request-Id"] == "test-req-42", "request id echoed")
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10) as resp:
        generated = resp.headers["X-Request-Id"]
        check(generated and len(generated) == 16, "request id generated: %r" % generated)
    await asyncio.sleep(0.2)
    lines = [json.loads(l) for l in open(log_path) if l.startswith("{")]
    mine = [l for l in lines if l.get("request_id") == "test-req-42"]
    check(mine and mine[0]["msg"] == "http" and mine[0]["path"] == "/api/v1/users/me" and mine[0]["status"] == 200
          and "ts" in mine[0] and mine[0]["level"] == "info", "request logged: %s" % mine)
    check(any(l["msg"] == "ws.open" for l in lines) and any(l["msg"] == "ws.close" for l in lines), "ws logged")
    raw = open(log_path).read()
    check(fresh["access_token"] not in raw and renewed["access_token"] not in raw, "tokens never logged")

    # The web page: served with a strict content security policy; nothing outside web/.
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as resp:
        check(resp.headers["Content-Type"].startswith("text/html"), "page is HTML")
        check("default-src 'self'" in resp.headers["Content-Security-Policy"], "page has a CSP")
        check(b"<html" in resp.read().lower(), "page body")
    for path in ("/nope.js", "/..%2Fdata/jwt.key", "/.hidden"):
        check(rest(port, path)[0] == 404, "%s is not served" % path)


def test_settings(imd, work):
    config = os.path.join(work, "imd.toml")
    with open(config, "w") as f:
        f.write('access_token_ttl_seconds = 5\nallowed_origins = ["http://good.example"]\n'
                '[limits]\nidle_timeout_seconds = 2\n')
    log_path = os.path.join(work, "imd.log")
    with open(log_path, "w") as log:
        proc, port = start_imd(imd, os.path.join(work, "settings"), ["--config", config], stderr=log)
    try:
        asyncio.run(settings_scenario(port, log_path))
        check(proc.poll() is None, "imd still running")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print("settings: ok")


async def overload_scenario(port):
    alice, bob = login(port, "alice"), login(port, "bob")
    conv = conv_of(alice, bob)
    async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, alice["access_token"])) as ws:
        for i in range(100):
            await ws.send(json.dumps({"type": "send-message", "id": "s%d" % i, "conversation_id": conv,
                                      "client_msg_id": "o-%d" % i, "content": "m%d" % i}))
        replies = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(100)]
    acks = [r for r in replies if r["type"] == "send-ack"]
    busy = [r for r in replies if r["type"] == "error"]
    check(len(acks) + len(busy) == 100, "every frame answered: %s" % [r["type"] for r in replies])
    check(busy and all(r["code"] == "unavailable" and r["retry_after_ms"] == 100 for r in busy),
          "overload refused at once with a retry hint: %s" % busy[:1])
    _, page = rest(port, "/api/v1/conversations/%s/messages?limit=200" % conv, token=bob["access_token"])
    check(sorted(m["client_msg_id"] for m in page["messages"]) == sorted("o-" + r["id"][1:] for r in acks),
          "history holds exactly the acknowledged sends")
    return len(acks), len(busy)


def test_overload(imd, work):
    config = os.path.join(work, "busy.toml")
    with open(config, "w") as f:
        f.write("[limits]\nworker_threads = 1\nmax_pending_requests = 2\n")
    proc, port = start_imd(imd, os.path.join(work, "busy"), ["--config", config])
    try:
        acked, busy = asyncio.run(overload_scenario(port))
        check(proc.poll() is None, "imd still running")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print("overload: ok (%d acked, %d refused as busy)" % (acked, busy))


def main(imd):
    work = tempfile.mkdtemp(prefix="imd-transport-")
    try:
        test_tls(imd, work)
        test_settings(imd, work)
        test_overload(imd, work)
        print("imd transport: all checks passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
