#!/usr/bin/env python3
"""Bad input against a running imd: every case gets its documented error or close code, and imd
keeps serving a well-behaved client with nothing lost. (Expired tokens, idle
timeouts and origins are in test_imd_transport.py.)"""
import asyncio
import base64
import json
import shutil
import socket
import sys
import tempfile

import websockets

from imd_harness import check, masked_frame, raw_upgrade, read_close_code, recv_type, rest, start_imd


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def expect_refused(url, headers=None):
    try:
        async with websockets.connect(url, extra_headers=headers or {}):
            return None
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code


async def scenario(port):
    url = "ws://127.0.0.1:%d/ws" % port
    for name in ("alice", "bob", "mallory"):
        rest(port, "/api/v1/auth/register", {"username": name, "password": name + "-password"})
    tok = {n: rest(port, "/api/v1/auth/login", {"username": n, "password": n + "-password", "device": "d"})[1]
           for n in ("alice", "bob", "mallory")}
    conv = "d:%s:%s" % tuple(sorted([tok["alice"]["user_id"], tok["bob"]["user_id"]], key=int))

    # REST: malformed bodies and wrong types.
    check(rest(port, "/api/v1/auth/login", raw=b"{oops")[0] == 400, "malformed JSON body")
    check(rest(port, "/api/v1/auth/login", {"username": 5, "password": "x", "device": "d"})[0] == 400, "wrong type")
    check(rest(port, "/api/v1/auth/login", raw=b"\xff\xfe")[0] == 400, "invalid UTF-8 body")
    check(rest(port, "/api/v1/auth/register", raw=b"x" * 200000)[0] == 413, "body over the limit")

    # Upgrades without a valid token: missing, forged signature, alg none, wrong shape.
    real = tok["alice"]["access_token"]
    header, payload, _ = real.split(".")
    none_token = b64({"alg": "none", "typ": "JWT"}) + "." + payload + "."
    forged = header + "." + b64({"iss": "libim", "sub": tok["bob"]["user_id"], "exp": 4102444800, "iat": 1}) + "." + \
        real.split(".")[2]
    for what, headers, suffix in (("missing", None, ""), ("garbage", {"Authorization": "Bearer x"}, ""),
                                  ("alg none", {"Authorization": "Bearer " + none_token}, ""),
                                  ("forged payload", None, "?token=" + forged)):
        status = await expect_refused(url + suffix, headers)
        check(status == 401, "%s token refused with 401, got %s" % (what, status))

    async with websockets.connect(url + "?token=" + tok["bob"]["access_token"]) as bob:
        async with websockets.connect(url + "?token=" + real) as ws:
            cases = [
                ("{not json", "invalid_argument"),
                (json.dumps({"type": "launch", "id": "1"}), "invalid_argument"),
                (json.dumps({"type": "send-message", "conversation_id": 7}), "invalid_argument"),
                (json.dumps({"type": "send-message", "conversation_id": "x"}), "invalid_argument"),
                (json.dumps({"type": "send-message", "conversation_id": conv, "content": ""}), "invalid_argument"),
                (json.dumps({"type": "send-message", "conversation_id": "g:999", "content": "x"}), "permission_denied"),
                (json.dumps({"type": "send-message", "conversation_id": conv, "content": "x" * 70000}),
                 "resource_exhausted"),
            ]
            for text, code in cases:
                await ws.send(text)
                err = await recv_type(ws, "error")
                check(err["code"] == code, "%r -> %s, got %s" % (text[:40], code, err))
            # A frame that fails to decode still gets its id back when the id can be read
            # (protocol.md): unknown type, unknown field, wrong field type.
            for text in (json.dumps({"type": "launch", "id": "u-1"}),
                         json.dumps({"type": "ping", "id": "u-2", "bogus": 1}),
                         json.dumps({"type": "send-message", "id": "u-3", "conversation_id": 7})):
                await ws.send(text)
                err = await recv_type(ws, "error")
                want = json.loads(text)["id"]
                check(err["code"] == "invalid_argument" and err.get("id") == want,
                      "%r -> invalid_argument with id %s, got %s" % (text[:40], want, err))
            # Bytes that are not a protobuf frame: a binary error frame, connection open.
            await ws.send(b"\xff\x00garbage")
            err = await asyncio.wait_for(ws.recv(), 5)  # replies use the request's encoding
            check(isinstance(err, bytes) and b"invalid_argument" in err, "garbage binary frame: %r" % err)
            # Mallory cannot reach the alice-bob conversation.
            async with websockets.connect(url + "?token=" + tok["mallory"]["access_token"]) as mal:
                await mal.send(json.dumps({"type": "send-message", "id": "m", "conversation_id": conv,
                                           "content": "let me in"}))
                check((await recv_type(mal, "error"))["code"] == "permission_denied", "outsider refused")
                await mal.send(json.dumps({"type": "sync", "id": "s", "positions": [{"conversation_id": conv}]}))
                res = await recv_type(mal, "sync-result")
                check(res["conversations"][0]["error_code"] == "permission_denied" and
                      not res["conversations"][0]["messages"], "outsider sync refused")
            # A frame over the 128 KiB limit closes that connection with 1009.
            async with websockets.connect(url + "?token=" + real, max_size=None) as big:
                await big.send("x" * 200000)
                try:
                    await asyncio.wait_for(big.recv(), 5)
                    raise AssertionError("oversized frame not refused")
                except websockets.exceptions.ConnectionClosed as e:
                    check(e.code == 1009, "oversized frame closed with 1009, got %s" % e.code)
            # TCP closed in the middle of a frame, and a connection that never finishes its
            # handshake: neither disturbs anyone else.
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Authorization: Bearer " + real.encode() + b"\r\n\r\n")
            s.recv(4096)
            s.sendall(b"\x81\xfe\x10\x00\x00\x00\x00\x00abc")  # announces 4096 masked bytes, sends 3
            s.close()
            # A text frame that is not UTF-8 closes that connection with 1007.
            bad_text = raw_upgrade(port, real)
            bad_text.sendall(masked_frame(0x1, b'{"type":"ping","id":"\xff\xfe"}'))
            code = read_close_code(bad_text)
            check(code == 1007, "invalid UTF-8 text frame closed with 1007, got %s" % code)
            bad_text.close()
            half_open = socket.create_connection(("127.0.0.1", port))
            half_open.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
            # Flooding past the rate limit (50 frames/s, burst 100 per connection): the excess is
            # refused with resource_exhausted, echoing the frame id, and the connection stays usable.
            async with websockets.connect(url + "?token=" + tok["mallory"]["access_token"]) as flood:
                for i in range(300):
                    await flood.send(json.dumps({"type": "ping", "id": "f%d" % i}))
                replies = [json.loads(await asyncio.wait_for(flood.recv(), 5)) for _ in range(300)]
                refused = [r for r in replies if r["type"] == "error"]
                check(refused and all(r["code"] == "resource_exhausted" and r["id"].startswith("f") and
                                      r["retry_after_ms"] == 20 for r in refused),
                      "flood refused with a retry hint: %d of 300, e.g. %s" % (len(refused), refused[:1]))
                check(sum(r["type"] == "pong" for r in replies) >= 100, "the burst was served")
                await asyncio.sleep(1.0)
                await flood.send(json.dumps({"type": "ping", "id": "after"}))
                check((await recv_type(flood, "pong"))["id"] == "after", "served again after backing off")
            # After all that, the well-behaved session still works and nothing was lost.
            await ws.send(json.dumps({"type": "send-message", "id": "ok", "conversation_id": conv,
                                      "client_msg_id": "ok-1", "content": "still here"}))
            ack = await recv_type(ws, "send-ack")
            check(ack["seq"] == "1", "the only stored message is the good one: %s" % ack)
            got = await recv_type(bob, "new-message")
            check(got["message"]["content"] == "still here", "bob still receives")
            half_open.close()
    _, page = rest(port, "/api/v1/conversations/%s/messages" % conv, token=tok["bob"]["access_token"])
    check([m["content"] for m in page["messages"]] == ["still here"], "history holds exactly the good message")

    # Conversation-list paging with the cursor percent-encoded, as a standard client sends it:
    # the page after bob's only conversation is empty (it used to start over at the top).
    bt = tok["bob"]["access_token"]
    status, first = rest(port, "/api/v1/conversations?limit=1", token=bt)
    check(status == 200 and len(first["conversations"]) == 1, "first page: %s" % first)
    row = first["conversations"][0]
    status, after = rest(port, "/api/v1/conversations?limit=1&cursor_activity_ms=%s&cursor_id=%s"
                         % (row["last_activity_ms"], row["id"].replace(":", "%3A")), token=bt)
    check(status == 200 and after["conversations"] == [], "page after the last row is empty: %s" % after)
    status, bad = rest(port, "/api/v1/conversations?cursor_activity_ms=1&cursor_id=not-a-conversation", token=bt)
    check(status == 400 and bad.get("code") == "invalid_argument", "malformed cursor_id is 400: %s %s" % (status, bad))


def main(imd):
    data = tempfile.mkdtemp(prefix="imd-bad-")
    proc, port = start_imd(imd, data)
    try:
        asyncio.run(scenario(port))
        check(proc.poll() is None, "imd is still running")
        print("imd bad input: all checks passed")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
