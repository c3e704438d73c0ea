"""Shared pieces of the imd end-to-end tests: start imd, call REST, read frames, assert."""
import asyncio
import json
import os
import subprocess
import urllib.error
import urllib.request


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def start_imd(imd, data_dir, extra_args=(), env_extra=None, listen_flag=True):
    """Starts imd on a free loopback port (--listen 127.0.0.1:0 unless listen_flag is False, when
    the caller's config or environment must say so); returns (process, port)."""
    env = dict(os.environ, IM_PASSWORD_ITERATIONS="1000", **(env_extra or {}))
    listen = ["--listen", "127.0.0.1:0"] if listen_flag else []
    proc = subprocess.Popen([imd, *listen, "--data-dir", data_dir, *extra_args], stdout=subprocess.PIPE, env=env,
                            text=True)
    line = proc.stdout.readline()
    return proc, int(line.split("http://127.0.0.1:")[1].split("/")[0])


def rest(port, path, body=None, token=None, raw=None):
    """One REST call; returns (HTTP status, decoded JSON body or None)."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method="POST" if (body is not None or raw is not None) else "GET")
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
