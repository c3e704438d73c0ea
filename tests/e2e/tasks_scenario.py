"""The task workers seen from outside, the same in imd and the split deployment: offline push to a
stand-in APNs that fails until the task is dead-lettered, listing and re-driving the dead letter
over the admin endpoint, the counters of every step on /metrics, full-text search limited to the
caller's conversations, and push settings."""
import asyncio
import json
import time
import urllib.parse
import urllib.request

import websockets

from imd_harness import check, recv_type, rest

APNS_TOKEN = "a1" * 32  # 64 hex digits, like a real device token
ADMIN_TOKEN = "admin-token-for-e2e-tests"
APNS_TOPIC = "org.libim.e2e"
MAX_ATTEMPTS = 3


def apns_script():
    """MAX_ATTEMPTS failures (the task is then dead-lettered), then success for the re-drive."""
    return [{"path": "/3/device/", "status": 503, "body": {"reason": "ServiceUnavailable"}}] * MAX_ATTEMPTS + \
           [{"path": "/3/device/", "status": 200, "body": "", "repeat": True}]


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
        text = resp.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def task_metric(port, type_, outcome):
    return metrics(port).get('im_tasks_total{type="%s",outcome="%s"}' % (type_, outcome), 0)


def wait_until(what, predicate, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def admin(port, path, token=ADMIN_TOKEN, method=None):
    return rest(port, path, token=token, method=method)


def login(port, name):
    check(rest(port, "/api/v1/auth/register", {"username": name, "password": name + "-password"})[0] == 201, name)
    status, t = rest(port, "/api/v1/auth/login", {"username": name, "password": name + "-password", "device": "d"})
    check(status == 200, "login " + name)
    return t


def search(port, token, q, conversation=None):
    path = "/api/v1/search?q=" + urllib.parse.quote(q)
    if conversation:
        path += "&conversation_id=" + urllib.parse.quote(conversation)
    return rest(port, path, token=token)


async def send(port, token, conversation, text):
    url = "ws://127.0.0.1:%d/ws" % port
    async with websockets.connect(url, extra_headers={"Authorization": "Bearer " + token}) as ws:
        await ws.send(json.dumps({"type": "send-message", "id": "1", "conversation_id": conversation,
                                  "content": text}))
        ack = await recv_type(ws, "send-ack", timeout=15)
        return ack["message_id"]


def run(port, admin_port, task_metrics_port, stub):
    """port: a gateway (REST, WebSocket); admin_port: where /admin/dead-letters is served;
    task_metrics_port: the /metrics of the process running the task workers."""
    a, b, c = login(port, "alice"), login(port, "bob"), login(port, "carol")
    ab = "d:%s:%s" % tuple(sorted([a["user_id"], b["user_id"]], key=int))

    # ---- push, dead letter, re-drive ----
    status, err = rest(port, "/api/v1/push/devices", {"platform": "pigeon", "token": APNS_TOKEN}, token=b["access_token"])
    check(status == 400 and err["code"] == "invalid_argument", "unknown platform refused: %s" % err)
    check(rest(port, "/api/v1/push/devices", {"platform": "apns", "token": APNS_TOKEN},
               token=b["access_token"])[0] == 204, "bob registers his phone")
    status, devices = rest(port, "/api/v1/push/devices", token=b["access_token"])
    check(status == 200 and [d["token"] for d in devices["devices"]] == [APNS_TOKEN], "devices: %s" % devices)
    # Other push tasks may still be running (the split harness's own probe messages): count this
    # test's push by what reaches APNs and by the dead-letter and delivery counters.
    before = {o: task_metric(task_metrics_port, "im.push", o) for o in ("ok", "retry", "dead_letter", "redrive")}
    delivered_before = metrics(task_metrics_port).get('im_push_total{outcome="delivered"}', 0)

    message_id = asyncio.run(send(port, a["access_token"], ab, "the eagle lands at noon"))
    # 90 s: on the Kafka mock cluster a task consumer may first wait out a consumer-group
    # rebalance (seen once in CI under load: the push was not dead-lettered within 40 s).
    wait_until("the push task to be dead-lettered",
               lambda: task_metric(task_metrics_port, "im.push", "dead_letter") == before["dead_letter"] + 1,
               timeout=90)
    check(task_metric(task_metrics_port, "im.push", "retry") == before["retry"] + MAX_ATTEMPTS - 1,
          "retried %d times" % (MAX_ATTEMPTS - 1))
    check(len(stub.requests()) == MAX_ATTEMPTS, "APNs was tried %d times" % MAX_ATTEMPTS)

    check(admin(admin_port, "/admin/dead-letters", token=None)[0] == 401, "dead letters need the admin token")
    check(admin(admin_port, "/admin/dead-letters", token="wrong-token-wrong-token")[0] == 401, "wrong token refused")
    wait_until("the dead letter to be kept", lambda: len(admin(admin_port, "/admin/dead-letters")[1]["dead_letters"]) == 1)
    letter = admin(admin_port, "/admin/dead-letters")[1]["dead_letters"][0]
    check(letter["task_type"] == "im.push" and letter["attempts"] == MAX_ATTEMPTS and "503" in letter["error"],
          "dead letter: %s" % letter)
    check(admin(admin_port, "/admin/dead-letters/999999/redrive", method="POST")[0] == 404, "unknown id")
    status, _ = admin(admin_port, "/admin/dead-letters/%s/redrive" % letter["id"], method="POST")
    check(status == 204, "re-drive accepted: %d" % status)
    wait_until("the re-driven push to be delivered",
               lambda: metrics(task_metrics_port).get('im_push_total{outcome="delivered"}', 0) == delivered_before + 1)
    wait_until("the re-driven task to count as ok",
               lambda: task_metric(task_metrics_port, "im.push", "ok") >= before["ok"] + 1)
    check(task_metric(task_metrics_port, "im.push", "redrive") == before["redrive"] + 1, "re-drive counted")
    check(admin(admin_port, "/admin/dead-letters")[1]["dead_letters"] == [], "no dead letter left")
    check(admin(admin_port, "/admin/dead-letters/%s" % letter["id"], method="DELETE")[0] == 404, "already gone")
    check(admin(admin_port, "/admin/dead-letters/1", token=None, method="DELETE")[0] == 401, "discard needs the token")

    reqs = stub.requests()
    check(len(reqs) == MAX_ATTEMPTS + 1, "one more APNs request after the re-drive: %d" % len(reqs))
    last = reqs[-1]
    headers = {k: v for k, v in last["headers"]}
    check(last["h2"] and last["method"] == "POST" and last["path"] == "/3/device/" + APNS_TOKEN, "APNs request line")
    check(headers.get("apns-topic") == APNS_TOPIC and headers.get("apns-push-type") == "alert", "APNs headers")
    check(headers.get("apns-collapse-id") == message_id, "collapse id is the message id")
    check(headers.get("authorization", "").startswith("bearer "), "provider token sent")
    body = json.loads(last["body"])
    check(body["aps"]["alert"] == {"title": "alice", "body": "the eagle lands at noon"}, "payload: %s" % body)

    # ---- push settings: a muted user gets no push ----
    status, settings = rest(port, "/api/v1/push/settings", {"muted": True}, token=b["access_token"], method="PUT")
    check(status == 200 and settings == {"muted": True, "show_preview": True}, "settings: %s" % settings)
    ok_before = task_metric(task_metrics_port, "im.push", "ok")
    asyncio.run(send(port, a["access_token"], ab, "quiet please"))
    wait_until("the muted push task", lambda: task_metric(task_metrics_port, "im.push", "ok") >= ok_before + 1)
    time.sleep(0.5)
    check(len(stub.requests()) == MAX_ATTEMPTS + 1, "no APNs request for a muted user")
    check(metrics(task_metrics_port).get('im_push_total{outcome="delivered"}', 0) == delivered_before + 1,
          "nothing delivered to a muted user")

    # ---- search: only the caller's conversations, also after leaving a group ----
    status, group = rest(port, "/api/v1/groups", {"name": "birders", "join_policy": "open"},
                         token=a["access_token"])
    check(status == 201, "group")
    gconv = "g:" + group["id"]
    for t in (b, c):
        check(rest(port, "/api/v1/groups/%s/join" % group["id"], {}, token=t["access_token"])[0] == 204, "join")
    asyncio.run(send(port, a["access_token"], gconv, "an eagle over the lake"))

    def hits(token, q, conversation=None):
        status, page = search(port, token, q, conversation)
        check(status == 200, "search %r: %s %s" % (q, status, page))
        return sorted(h["conversation_id"] for h in page["hits"])

    wait_until("both eagle messages to be indexed", lambda: hits(b["access_token"], "eagle") == sorted([ab, gconv]))
    check(hits(c["access_token"], "eagle") == [gconv], "carol only finds the group's")
    status, err = search(port, c["access_token"], "eagle", ab)
    check(status == 403 and err["code"] == "permission_denied", "carol cannot search alice and bob's chat")
    page = search(port, b["access_token"], "EAGLE lands")[1]
    check(len(page["hits"]) == 1 and "<mark>eagle</mark>" in page["hits"][0]["highlight"].lower(),
          "highlight: %s" % page)
    check(rest(port, "/api/v1/groups/%s/leave" % group["id"], {}, token=c["access_token"])[0] == 204, "carol leaves")
    check(hits(c["access_token"], "eagle") == [], "after leaving, carol finds nothing")
    status, err = search(port, b["access_token"], "!!!")
    check(status == 400 and err["code"] == "invalid_argument", "a query without words: %s" % err)
