#!/usr/bin/env python3
"""End-to-end: group join policies against imd (issue #12, finding 4), on the store given.

An invite-only group (the default) answers outsiders exactly like a missing id; an invitation
lets a user in, and history starts at their join; a kick with ban keeps them out of an open
group until unbanned, across a restart of imd; an approval group takes join requests. On a libim
without join policies every one of the first checks fails: any user could look the group up,
join it by id and read its history.

usage: test_imd_group_policy.py IMD [--store rocksdb]
"""
import asyncio
import json
import shutil
import sys
import tempfile

import websockets

from imd_harness import check, recv_type, rest, start_imd


def user(port, name):
    check(rest(port, "/api/v1/auth/register", {"username": name, "password": name + "-password"})[0] == 201, name)
    _, t = rest(port, "/api/v1/auth/login", {"username": name, "password": name + "-password", "device": "e2e"})
    return t


async def send(port, token, conv, key, text):
    async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, token)) as ws:
        await ws.send(json.dumps({"type": "send-message", "id": key, "conversation_id": conv,
                                  "client_msg_id": key, "content": text}))
        return await recv_type(ws, "send-ack")


async def sync_contents(port, token, conv):
    async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, token)) as ws:
        await ws.send(json.dumps({"type": "sync", "id": "s", "positions": [{"conversation_id": conv, "last_seq": 0}]}))
        result = await recv_type(ws, "sync-result")
        (entry,) = [c for c in result["conversations"] if c["conversation_id"] == conv]
        return entry


def history(port, token, conv):
    status, page = rest(port, "/api/v1/conversations/%s/messages" % conv, token=token)
    check(status == 200, "history: %s %s" % (status, page))
    return [m["content"] for m in page["messages"]]


def first_part(port):
    alice, bob, carol = user(port, "alice"), user(port, "bob"), user(port, "carol")
    at, bt, ct = alice["access_token"], bob["access_token"], carol["access_token"]
    status, group = rest(port, "/api/v1/groups", {"name": "private"}, token=at)
    check(status == 201, "created: %s" % group)
    gid, conv = group["id"], "g:" + group["id"]
    gpath = "/api/v1/groups/" + gid
    asyncio.run(send(port, at, conv, "a1", "before bob"))

    # Outsiders learn nothing: the answers for the group and for an id that does not exist match.
    hidden, missing = rest(port, gpath, token=bt), rest(port, "/api/v1/groups/987654", token=bt)
    check(hidden[0] == missing[0] == 404, "lookup: %s / %s" % (hidden, missing))
    check(hidden[1]["message"].replace(gid, "N") == missing[1]["message"].replace("987654", "N"), "same message")
    check(rest(port, gpath + "/join", {}, token=bt)[0] == 404, "join by id refused like a missing group")
    check(rest(port, "/api/v1/conversations/%s/messages" % conv, token=bt)[0] == 403, "no history for outsiders")
    check(group.get("join_policy") == "invite" and group.get("history_visibility") == "joined", "defaults: %s" % group)

    # Invited, bob sees the group and joins; history starts at his join (REST and sync).
    check(rest(port, gpath + "/invitations", {"user_id": bob["user_id"]}, token=at)[0] == 204, "invite bob")
    check(rest(port, gpath, token=bt)[0] == 200, "an invitee sees the group")
    check(rest(port, gpath + "/join", {}, token=bt)[0] == 204, "bob accepts by joining")
    asyncio.run(send(port, at, conv, "a2", "after bob"))
    check(history(port, bt, conv) == ["after bob"], "bob's history starts at his join")
    entry = asyncio.run(sync_contents(port, bt, conv))
    check([m["content"] for m in entry["messages"]] == ["after bob"] and not entry["history_lost"],
          "bob's sync starts at his join: %s" % entry)
    check(history(port, at, conv) == ["before bob", "after bob"], "alice reads everything")

    # Kicked with ban: out, and out of an open group too; unbanned, back in.
    check(rest(port, gpath + "/kick", {"user_id": bob["user_id"], "ban": True}, token=at)[0] == 204, "ban bob")
    status, opened = rest(port, gpath, {"join_policy": "open"}, token=at, method="PATCH")
    check(status == 200 and opened["join_policy"] == "open", "opened: %s" % opened)
    status, err = rest(port, gpath + "/join", {}, token=bt)
    check(status == 403 and err["code"] == "permission_denied", "a banned user cannot rejoin: %s %s" % (status, err))
    _, bans = rest(port, gpath + "/bans", token=at)
    check([b["user_id"] for b in bans["bans"]] == [bob["user_id"]], "ban list: %s" % bans)
    check(rest(port, gpath + "/join", {}, token=ct)[0] == 204, "carol joins the open group")
    check(rest(port, gpath + "/leave", {}, token=ct)[0] == 204, "carol leaves")
    return alice, bob, carol, gid


def second_part(port, alice, bob, carol, gid):
    """After a restart: the ban and the policy are still there."""
    _, a = rest(port, "/api/v1/auth/login", {"username": "alice", "password": "alice-password", "device": "e2e"})
    _, b = rest(port, "/api/v1/auth/login", {"username": "bob", "password": "bob-password", "device": "e2e"})
    _, c = rest(port, "/api/v1/auth/login", {"username": "carol", "password": "carol-password", "device": "e2e"})
    at, bt, ct = a["access_token"], b["access_token"], c["access_token"]
    gpath = "/api/v1/groups/" + gid
    check(rest(port, gpath, token=ct)[1]["join_policy"] == "open", "the policy survives a restart")
    check(rest(port, gpath + "/join", {}, token=bt)[0] == 403, "the ban survives a restart")
    check(rest(port, gpath + "/bans/" + bob["user_id"], token=at, method="DELETE")[0] == 204, "unban bob")
    check(rest(port, gpath + "/join", {}, token=bt)[0] == 204, "bob is back")

    # Approval: carol asks, alice approves.
    status, _ = rest(port, gpath, {"join_policy": "approval"}, token=at, method="PATCH")
    check(status == 200, "approval policy")
    status, err = rest(port, gpath + "/join", {}, token=ct)
    check(status == 403, "joining an approval group needs a request: %s %s" % (status, err))
    check(rest(port, gpath + "/requests", {}, token=ct)[0] == 204, "carol asks to join")
    check(rest(port, gpath + "/requests", token=bt)[0] == 403, "a plain member cannot list requests")
    _, requests = rest(port, gpath + "/requests", token=at)
    check([r["user_id"] for r in requests["requests"]] == [carol["user_id"]], "requests: %s" % requests)
    check(rest(port, gpath + "/requests/%s/approve" % carol["user_id"], {}, token=at)[0] == 204, "approve carol")
    _, members = rest(port, gpath + "/members", token=ct)
    check(len(members["members"]) == 3, "carol is a member: %s" % members)


def main(imd, extra_args):
    data = tempfile.mkdtemp(prefix="imd-group-policy-")
    try:
        proc, port = start_imd(imd, data, extra_args)
        try:
            state = first_part(port)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        proc, port = start_imd(imd, data, extra_args)
        try:
            second_part(port, *state)
            print("imd group policy e2e (%s): all checks passed" % (" ".join(extra_args) or "sqlite"))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
