#!/usr/bin/env python3
"""imd killed with SIGKILL during a stream of sends and restarted: every message that received a
send-ack is in history, seqs are gapless, and nothing is duplicated."""
import asyncio
import json
import shutil
import signal
import sys
import tempfile

import websockets

from imd_harness import check, rest, start_imd


async def stream(port, token, conv, acked, writers=4, kill_after=600):
    url = "ws://127.0.0.1:%d/ws?token=%s" % (port, token)

    async def writer(w):
        try:
            async with websockets.connect(url) as ws:
                for i in range(100000):
                    key = "w%d-%d" % (w, i)
                    await ws.send(json.dumps({"type": "send-message", "id": key, "conversation_id": conv,
                                              "client_msg_id": key, "content": "payload " + key}))
                    while True:
                        frame = json.loads(await ws.recv())
                        if frame.get("id") == key:
                            break
                    if frame["type"] == "send-ack":
                        acked[key] = (frame["seq"], frame["message_id"])
        except (websockets.exceptions.ConnectionClosed, OSError):
            return  # the server died under us

    tasks = [asyncio.create_task(writer(w)) for w in range(writers)]
    while len(acked) < kill_after:
        await asyncio.sleep(0.01)
    return tasks


def main(imd, extra_args=()):
    data = tempfile.mkdtemp(prefix="imd-kill-")
    proc, port = start_imd(imd, data, extra_args)
    try:
        for n in ("alice", "bob"):
            rest(port, "/api/v1/auth/register", {"username": n, "password": n + "-password"})
        _, a = rest(port, "/api/v1/auth/login", {"username": "alice", "password": "alice-password", "device": "d"})
        _, b = rest(port, "/api/v1/auth/login", {"username": "bob", "password": "bob-password", "device": "d"})
        conv = "d:%s:%s" % tuple(sorted([a["user_id"], b["user_id"]], key=int))
        acked = {}

        async def run():
            tasks = await stream(port, a["access_token"], conv, acked)
            proc.send_signal(signal.SIGKILL)  # acks already received stay in `acked`
            proc.wait()
            await asyncio.gather(*tasks)

        asyncio.run(run())
        proc2, port = start_imd(imd, data, extra_args)
        try:
            messages, before = [], 0
            while True:
                q = "?limit=200" + ("&before_seq=%d" % before if before else "")
                _, page = rest(port, "/api/v1/conversations/%s/messages%s" % (conv, q), token=b["access_token"])
                messages = page["messages"] + messages
                if not page["has_more"]:
                    break
                before = int(page["messages"][0]["seq"])
            seqs = [int(m["seq"]) for m in messages]
            check(seqs == list(range(1, len(seqs) + 1)), "seqs are not gapless 1..%d" % len(seqs))
            keys = [m["client_msg_id"] for m in messages]
            check(len(set(keys)) == len(keys), "duplicate messages in history")
            by_key = {m["client_msg_id"]: (m["seq"], m["id"]) for m in messages}
            lost = [k for k, v in acked.items() if by_key.get(k) != v]
            check(not lost, "%d acknowledged messages lost or changed, e.g. %s" % (len(lost), lost[:3]))
            print("imd SIGKILL: %d acked, %d stored, none lost, seqs gapless" % (len(acked), len(messages)))
        finally:
            proc2.terminate()
            proc2.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])  # e.g. --store rocksdb
