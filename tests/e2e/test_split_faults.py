"""Fault tests of the split deployment, bounded in time, on loopback. Each phase runs senders
(WebSocket clients that retry a message with the same client_msg_id until it is acknowledged)
while one part fails:

  logic    im-logic is killed with SIGKILL mid-stream and restarted
  gateway  im-gateway gw2 is killed with SIGKILL; its clients reconnect to gw1 and sync
  redis    redis-server is killed and restarted (routes come back with the gateways' heartbeats)
  postgres PostgreSQL is stopped and started again under im-repo

Afterwards, for every conversation: every acknowledged message is in history exactly once, seqs
are gapless from 1, nothing unacknowledged-but-retried is stored twice, and the receiver, after
a sync, holds all of them.

usage: test_split_faults.py DAEMONS_DIR IM_KAFKA_MOCK [PHASE...]
"""
import asyncio
import json
import os
import signal
import sys
import time

import websockets

sys.path.insert(0, os.path.dirname(__file__))
from imd_harness import check, rest  # noqa: E402
from split_harness import SplitDeployment  # noqa: E402

SENDERS = 4
MESSAGES = 60
PACE_S = 0.05  # between a sender's messages: the stream lasts a few seconds
RETRYABLE = {"unavailable", "deadline_exceeded", "internal", "resource_exhausted"}


def user(port, name):
    status, _ = rest(port, "/api/v1/auth/register", {"username": name, "password": "password-" + name})
    check(status == 201, "register %s: %s" % (name, status))
    status, t = rest(port, "/api/v1/auth/login", {"username": name, "password": "password-" + name, "device": "d"})
    check(status == 200, "login %s" % name)
    return t


class Sender:
    """Sends MESSAGES messages to one conversation, each retried with its client_msg_id until
    acknowledged, reconnecting (to the next gateway when one is gone) as needed."""

    def __init__(self, name, token, conversation, ports):
        self.name, self.token, self.conversation, self.ports = name, token, conversation, list(ports)
        self.acks = {}  # client_msg_id -> (message_id, seq)
        self.retries = 0

    async def run(self, deadline, ids=None):
        ws, turn = None, 0
        for cid in ids or ["%s-%d" % (self.name, i) for i in range(MESSAGES)]:
            while cid not in self.acks:
                check(time.time() < deadline, "%s: %s not acknowledged in time" % (self.name, cid))
                try:
                    if ws is None:
                        port = self.ports[turn % len(self.ports)]
                        ws = await asyncio.wait_for(websockets.connect(
                            "ws://127.0.0.1:%d/ws?token=%s" % (port, self.token)), 5)
                    await ws.send(json.dumps({"type": "send-message", "id": cid, "conversation_id": self.conversation,
                                              "client_msg_id": cid, "content": "message " + cid}))
                    while True:
                        frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
                        if frame.get("id") != cid:
                            continue  # an event, or the late answer to an earlier attempt
                        if frame["type"] == "send-ack":
                            self.acks[cid] = (frame["message_id"], int(frame["seq"]))
                        else:
                            check(frame["type"] == "error" and frame["code"] in RETRYABLE,
                                  "%s: unexpected answer %s" % (self.name, frame))
                            self.retries += 1
                            await asyncio.sleep(0.2)
                        break
                except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                    self.retries += 1
                    if ws is not None:
                        await ws.close()
                    ws, turn = None, turn + 1
                    await asyncio.sleep(0.2)
            await asyncio.sleep(PACE_S)
        if ws is not None:
            await ws.close()


def history(port, token, conversation):
    out, after = [], 0
    while True:
        status, page = rest(port, "/api/v1/conversations/%s/messages?after_seq=%d&limit=200" % (conversation, after),
                            token=token)
        check(status == 200, "history of %s: %s %s" % (conversation, status, page))
        out += page["messages"]
        if not page["has_more"]:
            return out
        after = int(page["messages"][-1]["seq"])


async def synced(port, token, conversation):
    """Everything a receiver gets by syncing from nothing."""
    got, last = [], 0
    async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, token)) as ws:
        while True:
            await ws.send(json.dumps({"type": "sync", "id": "s%d" % last, "include_unknown_conversations": False,
                                      "positions": [{"conversation_id": conversation, "last_seq": str(last)}]}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
                if frame["type"] == "sync-result":
                    break
            entry = [c for c in frame["conversations"] if c["conversation_id"] == conversation][0]
            got += entry.get("messages", [])
            if got:
                last = int(got[-1]["seq"])
            if not entry.get("has_more"):
                return got


def verify(d, senders, receivers, port):
    for s, r in zip(senders, receivers):
        msgs = history(port, r, s.conversation)
        seqs = [int(m["seq"]) for m in msgs]
        check(seqs == list(range(1, len(seqs) + 1)), "%s: seqs gapless from 1 (%d messages)" % (s.name, len(seqs)))
        cids = [m["client_msg_id"] for m in msgs]
        check(len(cids) == len(set(cids)), "%s: no message stored twice" % s.name)
        by_cid = {m["client_msg_id"]: (m["id"], int(m["seq"])) for m in msgs}
        check(len(s.acks) >= MESSAGES, "%s: every message acknowledged" % s.name)
        for cid, ack in s.acks.items():
            check(by_cid.get(cid) == ack, "%s: acked %s %s is in history as acked (%s)" % (s.name, cid, ack,
                                                                                          by_cid.get(cid)))
        got = asyncio.run(synced(port, r, s.conversation))
        check([m["id"] for m in got] == [m["id"] for m in msgs], "%s: the receiver's sync holds all" % s.name)


async def live_after_fault(senders, receivers_ws):
    """Each receiver, connected before the fault, gets a new message pushed again: its route is
    back in Presence (the gateway's heartbeat re-registers it after a Redis restart)."""
    for s, ws in zip(senders, receivers_ws):
        for attempt in range(15):
            cid = "%s-live-%d" % (s.name, attempt)
            await s.run(time.time() + 30, ids=[cid])
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                    if frame["type"] == "new-message" and frame["message"]["client_msg_id"] == cid:
                        break
                break
            except asyncio.TimeoutError:
                continue
        else:
            raise AssertionError("%s: no live delivery 15 s after the fault" % s.name)


def phase(d, name, fault, sender_ports, verify_port, live_port=None):
    senders, receivers = [], []
    for i in range(SENDERS):
        port = sender_ports[i % len(sender_ports)]
        a = user(port, "%s_s%d" % (name, i))
        b = user(port, "%s_r%d" % (name, i))
        conv = "d:%s:%s" % tuple(sorted([a["user_id"], b["user_id"]], key=int))
        order = [port] + [p for p in (d.port(g) for g in d.gateway_ids) if p != port]
        senders.append(Sender("%s_s%d" % (name, i), a["access_token"], conv, order))
        receivers.append(b["access_token"])

    async def run():
        live = [await websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (live_port, r)) for r in receivers] \
            if live_port else []
        deadline = time.time() + 120
        stream = asyncio.gather(*(s.run(deadline) for s in senders))
        await asyncio.sleep(1.0)  # mid-stream
        await asyncio.get_running_loop().run_in_executor(None, fault)
        await stream
        if live:
            await live_after_fault(senders, live)
            for ws in live:
                await ws.close()

    start = time.time()
    asyncio.run(run())
    verify(d, senders, receivers, verify_port)
    print("faults: %s passed in %.1fs (%d retries, %d messages acknowledged)" % (
        name, time.time() - start, sum(s.retries for s in senders), sum(len(s.acks) for s in senders)))


def main(bindir, kafka_mock, phases):
    with SplitDeployment(bindir, kafka_mock, send_timeout_ms=3000, presence_ttl_seconds=6) as d:
        p1, p2 = d.port("gw1"), d.port("gw2")

        def kill_logic():
            d.kill("logic", signal.SIGKILL)
            time.sleep(1.0)
            d.start_logic()

        def kill_gateway():
            d.kill("gw2", signal.SIGKILL)

        def restart_redis():
            d.kill("redis", signal.SIGKILL)
            time.sleep(1.0)
            d.start_redis()

        def restart_postgres():
            d.stop_postgres("fast")
            time.sleep(1.0)
            d.start_postgres()

        if "logic" in phases:
            phase(d, "logic", kill_logic, [p1, p2], p1)
        if "redis" in phases:
            phase(d, "redis", restart_redis, [p1], p1, live_port=p2)
        if "postgres" in phases:
            phase(d, "postgres", restart_postgres, [p1, p2], p1)
        if "gateway" in phases:
            phase(d, "gateway", kill_gateway, [p2], p1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:] or ["logic", "redis", "postgres", "gateway"])
