"""Shared pieces of the imd end-to-end tests: start imd, call REST, read frames, assert."""
import asyncio
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def start_imd(imd, data_dir, extra_args=(), env_extra=None, listen_flag=True, stderr=None, wrapper=()):
    """Starts imd on a free loopback port (--listen 127.0.0.1:0 unless listen_flag is False, when
    the caller's config or environment must say so); returns (process, port). `stderr`: where its
    log lines go (default: ours). `wrapper`: a command that runs imd (e.g. prlimit and its flags);
    it must exec imd so the process is imd's."""
    env = dict(os.environ, IM_PASSWORD_ITERATIONS="1000", **(env_extra or {}))
    listen = ["--listen", "127.0.0.1:0"] if listen_flag else []
    proc = subprocess.Popen([*wrapper, imd, *listen, "--data-dir", data_dir, *extra_args], stdout=subprocess.PIPE,
                            env=env, text=True, stderr=stderr)
    line = proc.stdout.readline()
    return proc, int(line.split("://127.0.0.1:")[1].split("/")[0])


def raw_upgrade(port, token):
    """A WebSocket upgrade over a bare socket, for frames no client library will send; returns
    the socket after the 101 response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        check(chunk, "upgrade answered")
        head += chunk
    check(head.startswith(b"HTTP/1.1 101"), "upgrade accepted: %r" % head[:40])
    return s


def masked_frame(opcode, payload):
    """One final client frame (masked with a zero key, which is valid)."""
    n = len(payload)
    header = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return header + b"\0\0\0\0" + payload


def read_close_code(s, timeout=10):
    """Reads server frames until a close frame; returns its status code (None on EOF first)."""
    s.settimeout(timeout)
    buf = b""
    while True:
        while len(buf) >= 2:
            opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = int.from_bytes(buf[2:4], "big"), 4
            if len(buf) < off + n:
                break
            payload, buf = buf[off:off + n], buf[off + n:]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk


def rest(port, path, body=None, token=None, raw=None, method=None):
    """One REST call (POST with a body, else GET, unless `method` says); returns (HTTP status,
    decoded JSON body or None)."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method or ("POST" if (body is not None or raw is not None) else "GET"))
    if raw is not None:
        req.data = raw
    elif body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


async def recv_type(ws, frame_type, timeout=5):
    """The next JSON frame of `frame_type`, skipping others."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == frame_type:
            return frame
