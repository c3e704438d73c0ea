#!/usr/bin/env python3
"""Drives examples/embed_minimal over real TCP: two users chat 1:1 and in a group."""
import socket
import subprocess
import sys


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf.split(b"\n", 1)
        return out.decode()

    def call(self, command, expect_prefix):
        if command:
            self.sock.sendall((command + "\n").encode())
        while True:
            got = self.line()
            if got.startswith(expect_prefix) or got.startswith("ERR"):
                return got


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def main(binary):
    proc = subprocess.Popen([binary, "--port", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        a, b = Client(port), Client(port)
        expect(a.call("SEND 2 too early", "ERR").startswith("ERR unauthenticated"), "send before login refused")
        alice = a.call("REGISTER alice password-a", "OK").split()[-1]
        bob = b.call("REGISTER bob password-b", "OK").split()[-1]
        expect(b.call("REGISTER bob other-pass", "OK").startswith("ERR already_exists"), "duplicate username")
        expect(a.call("LOGIN alice wrong-password laptop", "OK").startswith("ERR unauthenticated"), "bad password")
        expect(a.call("LOGIN alice password-a laptop", "OK") == "OK logged-in " + alice, "alice logs in")
        expect(b.call("LOGIN bob password-b phone", "OK") == "OK logged-in " + bob, "bob logs in")

        ack = a.call("SEND %s hello bob" % bob, "ACK").split()
        expect(ack[0] == "ACK" and ack[1] == "1", "first 1:1 message gets seq 1: %s" % ack)
        conv = ack[3]
        got = b.call("", "MSG").split(" ", 4)
        expect(got[1] == conv and got[2] == "1" and got[3] == alice and got[4] == "hello bob", "bob got it: %s" % got)
        ack2 = b.call("SEND %s hi alice" % alice, "ACK").split()
        expect(ack2[1] == "2", "reply gets seq 2")
        expect(a.call("", "MSG").endswith("hi alice"), "alice got the reply")
        expect(a.call("READ %s 2" % conv, "OK") == "OK read 2", "alice reads")
        expect(b.call("", "RECEIPT") == "RECEIPT %s %s 2" % (conv, alice), "bob sees the receipt")

        group = a.call("GROUP friends", "OK").split()[-1]
        expect(b.call("SEND g:%s not yet a member" % group, "ACK").startswith("ERR permission_denied"), "outsider")
        expect(b.call("JOIN " + group, "OK") == "OK joined", "bob joins")
        expect(b.call("SEND g:%s hello group" % group, "ACK").split()[1] == "1", "group seq 1")
        expect(a.call("", "MSG").endswith("hello group"), "alice got the group message")
        history = []
        a.sock.sendall(("HISTORY %s 10\n" % conv).encode())
        while True:
            line = a.line()
            if line == "OK history":
                break
            if line.startswith("HIST"):
                history.append(line)
        expect(len(history) == 2 and history[0].endswith("hello bob"), "history: %s" % history)
        expect(a.call("BOGUS", "ERR").startswith("ERR invalid_argument"), "unknown command")
        print("embed_minimal: all checks passed")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main(sys.argv[1])
