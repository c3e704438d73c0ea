#!/usr/bin/env python3
"""A scripted HTTPS server standing in for APNs, FCM and Google's token endpoint in tests.

    h2_stub_server.py --cert server.pem --key server.key --script script.json --log requests.jsonl
                      [--timeout 120]

Listens on 127.0.0.1 on a free port and prints that port as its first stdout line. TLS offers ALPN
"h2" and "http/1.1": HTTP/2 (python3-h2) when the client negotiates it, else a minimal HTTP/1.1.

script.json: {"responses": [{"path": "/3/device/", "status": 200, "headers": {"k": "v"},
                             "body": "text" or any JSON value (serialized), "repeat": false}, ...]}
A request takes the first unused entry whose "path" is a prefix of the request path; an entry is
used once unless "repeat" is true. A request no entry answers gets 500 with body
{"reason": "StubScriptExhausted"} (so an unexpected extra request shows up as a failure).

Every request is appended to the log as one JSON line, written and flushed before the response is
sent: {"method", "path", "headers": [[name, value], ...] (HTTP/2 pseudo-headers included),
"body", "h2": bool, "connection": n}. The server exits by itself after --timeout seconds, and on
SIGTERM or SIGINT.
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.events


class Script:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.entries = json.load(f).get("responses", [])
        self.used = [False] * len(self.entries)
        self.lock = threading.Lock()

    def answer(self, path):
        with self.lock:
            for i, e in enumerate(self.entries):
                if self.used[i] or not path.startswith(e.get("path", "/")):
                    continue
                if not e.get("repeat", False):
                    self.used[i] = True
                body = e.get("body", "")
                if not isinstance(body, str):
                    body = json.dumps(body)
                headers = [(str(k).lower(), str(v)) for k, v in e.get("headers", {}).items()]
                return int(e.get("status", 200)), headers, body.encode("utf-8")
        return 500, [("content-type", "application/json")], b'{"reason":"StubScriptExhausted"}'


class Log:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, record):
        with self.lock:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()


def serve_h2(sock, script, log, conn_id):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}  # stream id -> {"headers": [...], "body": bytearray}
    while True:
        data = sock.recv(65536)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                streams[event.stream_id] = {"headers": [[k, v] for k, v in event.headers], "body": bytearray()}
            elif isinstance(event, h2.events.DataReceived):
                if event.stream_id in streams:
                    streams[event.stream_id]["body"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                req = streams.pop(event.stream_id, None)
                if req is None:
                    continue
                pseudo = dict((k, v) for k, v in req["headers"] if k.startswith(":"))
                path = pseudo.get(":path", "")
                log.write({"method": pseudo.get(":method", ""), "path": path, "headers": req["headers"],
                           "body": req["body"].decode("utf-8", "replace"), "h2": True, "connection": conn_id})
                status, headers, body = script.answer(path)
                out = [(":status", str(status)), ("content-length", str(len(body)))] + headers
                conn.send_headers(event.stream_id, out, end_stream=not body)
                for off in range(0, len(body), 16384):
                    chunk = body[off:off + 16384]
                    conn.send_data(event.stream_id, chunk, end_stream=off + len(chunk) == len(body))
            elif isinstance(event, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)


def serve_http1(sock, script, log, conn_id):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append([name.strip().lower(), value.strip()])
        length = int(dict(headers).get("content-length", "0") or "0")
        while len(buf) < length:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        body, buf = buf[:length], buf[length:]
        log.write({"method": method, "path": path, "headers": headers, "body": body.decode("utf-8", "replace"),
                   "h2": False, "connection": conn_id})
        status, out_headers, out_body = script.answer(path)
        text = "HTTP/1.1 %d Stub\r\ncontent-length: %d\r\n" % (status, len(out_body))
        text += "".join("%s: %s\r\n" % (k, v) for k, v in out_headers) + "\r\n"
        sock.sendall(text.encode("latin-1") + out_body)


def handle(raw, tls, script, log, conn_id):
    try:
        sock = tls.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()  # e.g. the client refused our certificate
        return
    try:
        if sock.selected_alpn_protocol() == "h2":
            serve_h2(sock, script, log, conn_id)
        else:
            serve_http1(sock, script, log, conn_id)
    except (ssl.SSLError, OSError):
        pass
    except Exception as e:  # a bug here must not hang the client silently
        print("h2_stub_server: %r" % (e,), file=sys.stderr, flush=True)
    finally:
        try:
            sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    script = Script(args.script)
    log = Log(args.log)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    tls.set_alpn_protocols(["h2", "http/1.1"])

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    timer = threading.Timer(args.timeout, lambda: os._exit(0))
    timer.daemon = True
    timer.start()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)

    conn_id = 0
    while True:
        raw, _ = listener.accept()
        conn_id += 1
        threading.Thread(target=handle, args=(raw, tls, script, log, conn_id), daemon=True).start()


if __name__ == "__main__":
    main()
