#!/usr/bin/env python3
"""End-to-end: imd over real sockets, driven by a client that is not ours (python3-websockets).

Two users register and log in over REST, connect WebSockets with their access tokens, chat 1:1
both ways, resend idempotently, sync after a reconnect; a bad token is refused at the upgrade.
"""
import asyncio
import json
import shutil
import sys
import tempfile
import urllib.request

import websockets

from imd_harness import check, recv_type, rest, start_imd


def metric_values(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
        text = resp.read().decode()
        check(resp.headers["Content-Type"].startswith("text/plain"), "metrics content type")
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


async def scenario(port, store_metrics=True, metrics_port=None):
    """The client scenario. store_metrics: the store's latency shows on this port's /metrics (imd;
    in the split deployment im-repo has it). metrics_port: where the server's /metrics is (default
    `port`; an admin listener elsewhere). Counters are checked as growth over the scenario (the
    split deployment's readiness probe sent a message before it)."""
    metrics_port = metrics_port or port
    start = metric_values(metrics_port)
    status, err = rest(port, "/api/v1/auth/register", {"username": "x", "password": "short"})
    check(status == 400 and err["code"] == "invalid_argument", "bad registration: %s %s" % (status, err))
    check(rest(port, "/api/v1/auth/register", {"username": "alice", "password": "alice-password"})[0] == 201, "alice")
    check(rest(port, "/api/v1/auth/register", {"username": "bob", "password": "bob-password"})[0] == 201, "bob")
    check(rest(port, "/api/v1/auth/register", {"username": "bob", "password": "bob-password"})[0] == 409, "dup")
    status, bad = rest(port, "/api/v1/auth/login", {"username": "bob", "password": "nope-nope", "device": "d"})
    check(status == 401 and bad["code"] == "unauthenticated", "bad login")
    _, a = rest(port, "/api/v1/auth/login", {"username": "alice", "password": "alice-password", "device": "laptop"})
    _, b = rest(port, "/api/v1/auth/login", {"username": "bob", "password": "bob-password", "device": "phone"})
    status, me = rest(port, "/api/v1/users/me", token=a["access_token"])
    check(status == 200 and me["username"] == "alice", "users/me")
    conv = "d:%s:%s" % tuple(sorted([a["user_id"], b["user_id"]], key=int))

    url = "ws://127.0.0.1:%d/ws" % port
    try:
        async with websockets.connect(url, extra_headers={"Authorization": "Bearer forged.token.here"}):
            raise AssertionError("a forged token was accepted")
    except websockets.exceptions.InvalidStatusCode as e:
        check(e.status_code == 401, "forged token refused with 401, got %d" % e.status_code)

    async with websockets.connect(url, extra_headers={"Authorization": "Bearer " + a["access_token"]}) as wa, \
            websockets.connect(url + "?token=" + b["access_token"]) as wb:
        await wa.send(json.dumps({"type": "send-message", "id": "1", "conversation_id": conv,
                                  "client_msg_id": "a-1", "content": "hello bob"}))
        ack = await recv_type(wa, "send-ack")
        check(ack["id"] == "1" and ack["seq"] == "1" and not ack["duplicate"], "ack: %s" % ack)
        msg = await recv_type(wb, "new-message")
        check(msg["message"]["content"] == "hello bob" and msg["message"]["id"] == ack["message_id"], "bob got it")
        await wb.send(json.dumps({"type": "send-message", "id": "2", "conversation_id": conv,
                                  "client_msg_id": "b-1", "content": "hi alice"}))
        check((await recv_type(wb, "send-ack"))["seq"] == "2", "reply seq 2")
        check((await recv_type(wa, "new-message"))["message"]["content"] == "hi alice", "alice got the reply")
        await wa.send(json.dumps({"type": "send-message", "id": "3", "conversation_id": conv,
                                  "client_msg_id": "a-1", "content": "hello bob"}))
        dup = await recv_type(wa, "send-ack")
        check(dup["duplicate"] and dup["seq"] == "1" and dup["message_id"] == ack["message_id"], "idempotent resend")
        await wa.send("{not json")
        err = await recv_type(wa, "error")
        check(err["code"] == "invalid_argument", "malformed frame: %s" % err)
        await wa.send(json.dumps({"type": "ping", "id": "p"}))
        check((await recv_type(wa, "pong"))["id"] == "p", "pong")

    # Bob is offline while alice sends two more; after reconnecting, sync returns exactly those.
    async with websockets.connect(url, extra_headers={"Authorization": "Bearer " + a["access_token"]}) as wa:
        for i in (3, 4):
            await wa.send(json.dumps({"type": "send-message", "id": str(i), "conversation_id": conv,
                                      "client_msg_id": "a-%d" % i, "content": "missed %d" % i}))
            await recv_type(wa, "send-ack")
    async with websockets.connect(url + "?token=" + b["access_token"]) as wb:
        await wb.send(json.dumps({"type": "sync", "id": "s", "positions": [{"conversation_id": conv, "last_seq": 2}]}))
        result = await recv_type(wb, "sync-result")
        got = result["conversations"][0]["messages"]
        check([m["seq"] for m in got] == ["3", "4"], "sync returned exactly the missed messages: %s" % got)

    # REST: conversation list with unread counts, history paging, read pointer, groups.
    bt, at = b["access_token"], a["access_token"]
    status, convs = rest(port, "/api/v1/conversations", token=bt)
    check(status == 200 and convs["conversations"][0]["id"] == conv, "conversation list: %s" % convs)
    check(convs["conversations"][0]["unread"] == 2 and convs["conversations"][0]["last_message"]["seq"] == "4",
          "unread counts: %s" % convs)
    status, page = rest(port, "/api/v1/conversations/%s/messages?limit=2" % conv, token=bt)
    check(status == 200 and [m["seq"] for m in page["messages"]] == ["3", "4"] and page["has_more"], "page 1")
    _, older = rest(port, "/api/v1/conversations/%s/messages?limit=2&before_seq=3" % conv.replace(":", "%3A"), token=bt)
    check([m["seq"] for m in older["messages"]] == ["1", "2"] and not older["has_more"], "page 2: %s" % older)
    status, read = rest(port, "/api/v1/conversations/%s/read" % conv, {"seq": 4}, token=bt)
    check(status == 200 and read["read_seq"] == "4", "read pointer")
    check(rest(port, "/api/v1/conversations", token=bt)[1]["conversations"][0]["unread"] == 0, "read clears unread")
    check(rest(port, "/api/v1/conversations", token="garbage")[0] == 401, "bearer required")

    status, group = rest(port, "/api/v1/groups", {"name": "friends"}, token=at)
    check(status == 201 and group["member_count"] == 1, "group created: %s" % group)
    check(group["join_policy"] == "invite" and group["history_visibility"] == "joined", "defaults: %s" % group)
    check(rest(port, "/api/v1/groups/%s/members" % group["id"], token=bt)[0] == 403, "outsider cannot list members")
    # Invite-only: bob neither sees nor joins it until alice invites him; joining accepts.
    check(rest(port, "/api/v1/groups/%s" % group["id"], token=bt)[0] == 404, "hidden from bob")
    check(rest(port, "/api/v1/groups/%s/join" % group["id"], {}, token=bt)[0] == 404, "bob cannot join uninvited")
    check(rest(port, "/api/v1/groups/%s/invitations" % group["id"], {"user_id": b["user_id"]}, token=at)[0] == 204,
          "alice invites bob")
    _, invitations = rest(port, "/api/v1/invitations", token=bt)
    check([i["group"]["name"] for i in invitations["invitations"]] == ["friends"], "bob's invitations: %s" % invitations)
    check(rest(port, "/api/v1/groups/%s/join" % group["id"], {}, token=bt)[0] == 204, "bob joins")
    check(rest(port, "/api/v1/invitations", token=bt)[1]["invitations"] == [], "the invitation is spent")
    _, members = rest(port, "/api/v1/groups/%s/members" % group["id"], token=bt)
    check(sorted(m["role"] for m in members["members"]) == ["member", "owner"], "members: %s" % members)
    status, other = rest(port, "/api/v1/conversations/d:%s:999999/messages" % a["user_id"], token=bt)
    check(status == 403 and other["code"] == "permission_denied", "another pair's history: %s %s" % (status, other))
    _, users = rest(port, "/api/v1/users?ids=%s,%s" % (a["user_id"], b["user_id"]), token=bt)
    check(sorted(u["username"] for u in users["users"]) == ["alice", "bob"], "batch lookup")
    _, found = rest(port, "/api/v1/users?username=alice", token=bt)
    check([u["id"] for u in found["users"]] == [a["user_id"]], "lookup by username: %s" % found)
    check(rest(port, "/api/v1/users?username=nobody", token=bt)[0] == 404, "unknown username")

    # A group of three with bob on two devices: one send reaches every other session once.
    check(rest(port, "/api/v1/auth/register", {"username": "carol", "password": "carol-password"})[0] == 201, "carol")
    _, c = rest(port, "/api/v1/auth/login", {"username": "carol", "password": "carol-password", "device": "tab"})
    _, b2 = rest(port, "/api/v1/auth/login", {"username": "bob", "password": "bob-password", "device": "desk"})
    check(rest(port, "/api/v1/groups/%s/invitations" % group["id"], {"user_id": c["user_id"]}, token=bt)[0] == 403,
          "a plain member cannot invite")
    check(rest(port, "/api/v1/groups/%s/invitations" % group["id"], {"user_id": c["user_id"]}, token=at)[0] == 204,
          "alice invites carol")
    check(rest(port, "/api/v1/groups/%s/join" % group["id"], {}, token=c["access_token"])[0] == 204, "carol joins")
    gconv = "g:" + group["id"]
    async with websockets.connect(url + "?token=" + at) as wa, \
            websockets.connect(url + "?token=" + bt) as wb1, \
            websockets.connect(url + "?token=" + b2["access_token"]) as wb2, \
            websockets.connect(url + "?token=" + c["access_token"]) as wc:
        await wa.send(json.dumps({"type": "send-message", "id": "g1", "conversation_id": gconv,
                                  "client_msg_id": "g-1", "content": "hello group"}))
        gack = await recv_type(wa, "send-ack")
        check(gack["seq"] == "1", "first group message gets seq 1")
        for name, ws in (("bob phone", wb1), ("bob desk", wb2), ("carol", wc)):
            got = await recv_type(ws, "new-message")
            check(got["message"]["id"] == gack["message_id"] and got["message"]["content"] == "hello group",
                  "%s got the group message" % name)
        await wb2.send(json.dumps({"type": "send-message", "id": "g2", "conversation_id": gconv,
                                   "client_msg_id": "g-2", "content": "from the desk"}))
        check((await recv_type(wb2, "send-ack"))["seq"] == "2", "group seq 2")
        for name, ws in (("alice", wa), ("bob phone", wb1), ("carol", wc)):
            got = await recv_type(ws, "new-message")
            check(got["message"]["content"] == "from the desk", "%s got bob's desk message" % name)
        await wc.send(json.dumps({"type": "read", "id": "r1", "conversation_id": gconv, "seq": 2}))
        mine = await recv_type(wc, "read-receipt")
        check(mine["id"] == "r1" and mine["read_seq"] == "2", "carol's read is confirmed: %s" % mine)
        theirs = await recv_type(wa, "read-receipt")
        check(theirs["reader_id"] == c["user_id"] and theirs["read_seq"] == "2", "alice sees carol's receipt")
    # Operations endpoints.
    check(rest(port, "/readyz")[0] == 200, "readyz")
    now = metric_values(metrics_port)
    values = {k: v - start.get(k, 0) for k, v in now.items()}
    check(values["im_messages_sent_total"] == 7, "7 sends acked: %s" % values["im_messages_sent_total"])
    check(values["im_fanout_deliveries_total"] >= 8, "deliveries counted")
    check(values["im_frames_in_total"] > values["im_messages_sent_total"], "frames counted")
    if store_metrics:
        check(values['im_store_latency_seconds_count{op="append"}'] == 7, "store append latency recorded")
    check(values["im_send_latency_seconds_count"] == values["im_messages_sent_total"], "one latency per send")
    # Every WebSocket above is closed: the gauge returns to 0 once the server has seen the closes.
    for _ in range(100):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10) as resp:
            gauge = [l for l in resp.read().decode().splitlines() if l.startswith("im_connections ")][0]
        if gauge == "im_connections 0":
            break
        await asyncio.sleep(0.02)
    check(gauge == "im_connections 0", "connections gauge back to 0: %s" % gauge)
    _, clist = rest(port, "/api/v1/conversations", token=c["access_token"])
    check(clist["conversations"][0]["unread"] == 0, "carol has nothing unread")
    _, alist = rest(port, "/api/v1/conversations", token=at)
    check([x["unread"] for x in alist["conversations"] if x["id"] == gconv] == [1], "alice has bob's message unread")

    # Ownership moves to bob; then only bob may dismiss the group, after which it is gone.
    gpath = "/api/v1/groups/%s" % group["id"]
    check(rest(port, gpath + "/transfer", {"user_id": b["user_id"]}, token=bt)[0] == 403, "only the owner transfers")
    check(rest(port, gpath + "/transfer", {"user_id": b["user_id"]}, token=at)[0] == 204, "alice hands over to bob")
    _, members = rest(port, gpath + "/members", token=at)
    roles = {m["user_id"]: m["role"] for m in members["members"]}
    check(roles[b["user_id"]] == "owner" and roles[a["user_id"]] != "owner", "bob owns the group: %s" % roles)
    check(rest(port, gpath, token=at, method="DELETE")[0] == 403, "a former owner cannot dismiss")
    check(rest(port, gpath, token=bt, method="DELETE")[0] == 204, "the owner dismisses")
    check(rest(port, gpath, token=bt)[0] == 404, "a dismissed group is gone")


def main(imd):
    data = tempfile.mkdtemp(prefix="imd-e2e-")
    proc, port = start_imd(imd, data)
    try:
        asyncio.run(scenario(port))
        print("imd e2e: all checks passed")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit("imd exited with %d after SIGTERM" % proc.returncode)


if __name__ == "__main__":
    main(sys.argv[1])
