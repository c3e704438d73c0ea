"""imd's WebSocket framing seen from raw sockets (RFC 6455 as a client library would not
exercise it): the handshake's refusals, frames sent before the 101 arrives, fragmented requests,
ping control frames, protocol violations (1002), the close handshake, several replies in one
segment, and a slow consumer cut off by bytes queued (4000) while others are served."""

import asyncio
import base64
import json
import os
import shutil
import socket
import sys
import tempfile
import time

import websockets

from imd_harness import check, masked_frame, rest, start_imd


def login(port, name):
    body = {"username": name, "password": name + "-password"}
    status, _ = rest(port, "/api/v1/auth/register", body)
    check(status in (201, 409), "register %s: %s" % (name, status))
    status, tok = rest(port, "/api/v1/auth/login", dict(body, device="d"))
    check(status == 200, "login %s" % name)
    return tok


def upgrade_request(token, version=b"13", key=b"dGhlIHNhbXBsZSBub25jZQ=="):
    return (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: " + version + b"\r\nSec-WebSocket-Key: " + key + b"\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n\r\n")


class Raw:
    """A raw client connection: sends bytes, parses server frames (any length form)."""

    def __init__(self, port, first_bytes, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(20)
        self.s.connect(("127.0.0.1", port))
        self.s.sendall(first_bytes)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            check(chunk, "handshake answered")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ")[1])
        self.head = head.decode()

    def frame(self):
        """(opcode, payload) of the next server frame; None at EOF."""
        while True:
            if len(self.buf) >= 2:
                check(self.buf[1] & 0x80 == 0, "server frames are not masked")
                n, off = self.buf[1] & 0x7F, 2
                if n == 126 and len(self.buf) >= 4:
                    n, off = int.from_bytes(self.buf[2:4], "big"), 4
                elif n == 127 and len(self.buf) >= 10:
                    n, off = int.from_bytes(self.buf[2:10], "big"), 10
                if n < 126 or off > 2:
                    if len(self.buf) >= off + n:
                        opcode, payload = self.buf[0] & 0x0F, self.buf[off:off + n]
                        self.buf = self.buf[off + n:]
                        return opcode, payload
            chunk = self.s.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk

    def json(self):
        while True:
            f = self.frame()
            check(f is not None, "connection still open")
            if f[0] == 0x1:
                return json.loads(f[1])

    def close_code(self):
        """Reads until the server's close frame; its code (None if the connection ends first)."""
        while True:
            f = self.frame()
            if f is None:
                return None
            if f[0] == 0x8:
                return int.from_bytes(f[1][:2], "big") if len(f[1]) >= 2 else 1005


def frame(opcode, payload, fin=True):
    """A client frame of any length (masked with a zero key)."""
    n = len(payload)
    first = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        length = bytes([0x80 | n])
    elif n <= 0xFFFF:
        length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return first + length + b"\0\0\0\0" + payload


def ping_json(i):
    return json.dumps({"type": "ping", "id": i}).encode()


async def scenario(port):
    alice, bob, carol = login(port, "alice"), login(port, "bob"), login(port, "carol")
    token = alice["access_token"]

    # The handshake: only version 13, only a well-formed key.
    bad = Raw(port, upgrade_request(token, version=b"8"))
    check(bad.status == 426 and "Sec-WebSocket-Version: 13" in bad.head, "version 8 refused with 426: %s" % bad.head)
    bad = Raw(port, upgrade_request(token, key=b"short"))
    check(bad.status == 400, "malformed key refused with 400: %s" % bad.status)
    ok = Raw(port, upgrade_request(token))
    check(ok.status == 101 and "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in ok.head,
          "RFC 6455 accept key: %s" % ok.head)

    # Frames sent with the upgrade request, before the 101: served, in order, and several
    # replies may share one TCP segment.
    early = Raw(port, upgrade_request(token) + frame(0x1, ping_json("e1")) + frame(0x1, ping_json("e2")))
    check(early.status == 101, "pipelined upgrade accepted")
    check([early.json()["id"], early.json()["id"]] == ["e1", "e2"], "frames sent before the 101 are answered")

    # A request in three fragments, with a ping control frame between them.
    body = ping_json("frag")
    early.s.sendall(frame(0x1, body[:5], fin=False) + frame(0x9, b"hb") + frame(0x0, body[5:9], fin=False) +
                    frame(0x0, body[9:]))
    got = early.frame()
    check(got == (0xA, b"hb"), "ping answered with a pong carrying its payload: %s" % (got,))
    reply = early.json()
    check(reply["type"] == "pong" and reply["id"] == "frag", "fragmented request reassembled: %s" % reply)

    # The close handshake: the server answers with the client's code, then ends the connection.
    early.s.sendall(frame(0x8, (4321).to_bytes(2, "big") + b"bye"))
    check(early.close_code() == 4321, "close answered with the client's code")
    check(early.frame() is None, "server ended the TCP connection after the close handshake")

    # Frames that do not decode take rate-limit tokens like any other (50/s, burst 100): a burst
    # of 150 is partly refused with resource_exhausted, the id still echoed.
    junk = Raw(port, upgrade_request(token))
    junk.s.sendall(b"".join(frame(0x1, json.dumps({"type": "no-such-frame", "id": "j%d" % i}).encode())
                            for i in range(150)))
    replies = [junk.json() for _ in range(150)]
    codes = [r.get("code") for r in replies]
    check(all(r["type"] == "error" and r["id"].startswith("j") for r in replies), "every junk frame answered")
    check(codes.count("resource_exhausted") >= 30 and codes.count("invalid_argument") >= 90,
          "junk frames are rate limited too: %d refused" % codes.count("resource_exhausted"))
    junk.s.close()

    # Protocol violations: an unmasked frame, a reserved opcode.
    for what, data in (("unmasked frame", b"\x81\x02hi"), ("reserved opcode", frame(0x3, b"x"))):
        v = Raw(port, upgrade_request(token))
        v.s.sendall(data)
        code = v.close_code()
        check(code == 1002, "%s closed with 1002, got %s" % (what, code))
        check(v.frame() is None, "%s: connection ended" % what)

    # Revocation reaches live sessions: a logout closes the WebSockets opened with that login
    # (1008 "session revoked") within seconds, and only those; so does refresh-token reuse.
    dave1, dave2, dave3 = login(port, "dave"), login(port, "dave"), login(port, "dave")
    url = "ws://127.0.0.1:%d/ws?token=" % port
    async with websockets.connect(url + dave1["access_token"]) as w1, \
            websockets.connect(url + dave2["access_token"]) as w2, \
            websockets.connect(url + dave3["access_token"]) as w3:
        for w in (w1, w2, w3):  # attached before the revocations
            await w.send(ping_json("up").decode())
            await asyncio.wait_for(w.recv(), 10)
        started = time.monotonic()
        check(rest(port, "/api/v1/auth/logout", {"refresh_token": dave1["refresh_token"]})[0] in (200, 204),
              "logout")
        try:
            await asyncio.wait_for(w1.recv(), 5)
            raise AssertionError("the logged-out session stayed open")
        except websockets.exceptions.ConnectionClosed as e:
            check(e.code == 1008 and "revoked" in e.reason, "logout closes its session: %s %s" % (e.code, e.reason))
        check(time.monotonic() - started < 3, "closed within seconds")
        status, rotated = rest(port, "/api/v1/auth/refresh", {"refresh_token": dave3["refresh_token"]})
        check(status == 200, "refresh")
        check(rest(port, "/api/v1/auth/refresh", {"refresh_token": dave3["refresh_token"]})[0] == 401, "reuse refused")
        try:
            await asyncio.wait_for(w3.recv(), 5)
            raise AssertionError("the session of a reused refresh token stayed open")
        except websockets.exceptions.ConnectionClosed as e:
            check(e.code == 1008, "refresh-token reuse closes that login's session: %s" % e.code)
        await w2.send(ping_json("other-login").decode())
        check(json.loads(await asyncio.wait_for(w2.recv(), 10))["id"] == "other-login", "other logins stay open")

    # A slow consumer, by bytes: with max_queued_bytes = 65536, a client that asks for large sync
    # replies and reads nothing is closed with 4000 once the kernel's buffers are full, while
    # another session keeps being served.
    conv = "d:%s:%s" % tuple(sorted((int(alice["user_id"]), int(bob["user_id"]))))
    async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, token), max_size=None) as ws:
        for i in range(40):
            await ws.send(json.dumps({"type": "send-message", "id": "s%d" % i, "conversation_id": conv,
                                      "client_msg_id": "big-%d" % i, "content": "x" * 50000}))
        acks = 0
        while acks < 40:
            acks += json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "send-ack"
    slow = Raw(port, upgrade_request(bob["access_token"]), rcvbuf=4096)
    sync = json.dumps({"type": "sync", "id": "big", "limit_per_conversation": 1000,
                       "positions": [{"conversation_id": conv, "last_seq": "0"}]}).encode()
    for _ in range(8):
        slow.s.sendall(frame(0x1, sync))
    async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, carol["access_token"])) as other:
        time.sleep(3)  # the syncs are answered into the full buffers meanwhile
        await other.send(ping_json("still").decode())
        check(json.loads(await asyncio.wait_for(other.recv(), 10))["id"] == "still", "other sessions still served")
    received = 0
    while True:
        f = slow.frame()
        check(f is not None, "slow consumer got a close frame before the end")
        if f[0] == 0x8:
            code = int.from_bytes(f[1][:2], "big")
            break
        received += len(f[1])
    check(code == 4000, "slow consumer closed with 4000, got %s" % code)
    check(received < 8 * 40 * 50000, "not every reply was queued for it (%d bytes received)" % received)


def main(imd):
    work = tempfile.mkdtemp(prefix="imd-ws-")
    config = os.path.join(work, "imd.toml")
    with open(config, "w") as f:
        f.write("[limits]\nmax_queued_bytes = 65536\n")
    proc, port = start_imd(imd, os.path.join(work, "data"), ["--config", config])
    try:
        asyncio.run(scenario(port))
        check(proc.poll() is None, "imd still running")
        print("imd websocket framing: all checks passed")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
